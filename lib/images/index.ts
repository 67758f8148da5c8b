// Building the bottle images (agent, sidecars): the public surface for commands/ and backends.
export { buildImages, formatSize, type BuildDeps, type BuildOptions, type BuildReport, type BuiltImage } from './build.js';
export { BOOTSTRAP_BASE, OFFICIAL_BASE, chooseBase, imageId, type BaseChoice, type BaseProbes } from './base.js';
export { IMAGE_KINDS, IMAGES, LABEL_BASE, LABEL_IMAGE, LABEL_SOURCE, type ImageKind } from './context.js';
export { describeCa, selectCaFile, type CaChoice } from './host.js';
