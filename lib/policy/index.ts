// The gateway's policy engine: load/serialize policy.yaml, and judge requests, CONNECTs and DNS
// answers. Everything here is pure; the daemon owns sockets, files and signals.
export { loadPolicy, PolicyError } from './load.js';
export {
  policyHash, serializePolicy, allowItem, addAllow, addRoute, reload, routeEnvNames,
  renderRouteHeaders, routeSecretValues, type ReloadResult,
} from './model.js';
export { evaluate, evaluateConnect, lapsedGrantFor, PASSTHROUGH_PORT, routeFor, tlsMode, type EvaluateOptions } from './evaluate.js';
export {
  dropUntilStop, formatRemaining, GRANT_CHOICES, GRANT_LAPSED_EVENT, grantsOf, normalizeUntil, parseGrantFor, setAllowUntil, untilMs, UNTIL_STOP,
  type Grant, type GrantLapsedEvent,
} from './grants.js';
export { checkResolved, parseIp, type IpInfo } from './ip.js';
export { prepareCanaries, type Canaries } from './canary.js';
export { normalizeHost, normalizePattern, patternsOverlap } from './hosts.js';
export { coversPublicSuffix, isPublicSuffix, publicSuffixOf, publicSuffixWildcardProblem, registrableDomain } from './public-suffix.js';
export { HOP_BY_HOP } from './headers.js';
export { MODEL_API_PATHS } from './model-api.js';
export {
  STAGES, block, DEFAULT_LIMITS, DEFAULT_DLP, emptyPolicy, dlpOnlyPolicy,
  type Policy, type Route, type ModelApi, type Limits, type DlpOptions, type HttpRequest, type Stage, type Verdict,
} from './types.js';
