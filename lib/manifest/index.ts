// The manifest module's public surface.
export * from './types.js';
export { parseManifest, type ParseResult } from './parse.js';
export { ManifestError, MANIFEST_FILE, formatIssue, loadManifest, locateManifest, manifestNotice, readManifest, type LocateOptions, type LocatedManifest } from './load.js';
export { parseTemplate, resolveRouteHeaders, templateVars, type RouteLike, type TemplatePart } from './template.js';
export { AGENT_NAME, ENV_NAME, HEADER_NAME, isHostname, parseHostPattern, gitUpstreamProblem, type HostKind } from './syntax.js';
export { ENGINE_NAME, LOCAL_ENGINE, engineNames } from './engines.js';
