// Per-bottle host state (SPEC §5): root resolution, slugs, layout, metadata, lifecycle.
export { stateRoot } from './root.js';
export { defaultRandom, isValidSlug, mintSlug, type RandomSource, SLUG_ALPHABET, slugPrefix, validateSlug } from './slug.js';
export { type BottlePaths, bottlePaths } from './paths.js';
export { type LockOptions, withFileLock, writeFileAtomic } from './atomic.js';
export {
  type Backend, BACKENDS, type BottleResources, type Metadata, type MetadataPatch, METADATA_SCHEMA,
  parseMetadata, readMetadata, serializeMetadata, updateMetadata, writeMetadata,
} from './metadata.js';
export {
  type BottleEntry, claimSlugDir, createBottle, type CreateBottleOptions, type CreatedBottle, ensureStateRoot,
  listBottles, removeBottle,
} from './bottles.js';
