// The egress gateway (SPEC §7): start one in-process with startGateway, or run it as
// `bottle sidecar gateway` (registerGateway). Pure pieces are exported for tests and benches.
export { startGateway, type Gateway, type GatewayOptions } from './server.js';
export { answeredInside } from './connect.js';
export { registerGateway, parseListenAddress } from './cli.js';
export { DEFAULT_TIMEOUTS, type Timeouts } from './context.js';
export { parseHostsFile, staticLookup, systemLookup, resolveUpstream, type Lookup, type Resolved } from './dial.js';
export { redactPath, loggedTarget, batchedWriter, DecisionLog, WITHHELD, type Decision } from './log.js';
export { POLICY_FILE, PolicyStore, Snapshot, watchPolicyDir, type ReloadOutcome } from './reload.js';
export { ACCESS_HINT, ASK_TOOL, accessHint, blockAnswer, wantsJson, type Answer, type Denial } from './respond.js';
export { upstreamRequestHeaders, clientResponseHeaders, isWebSocketUpgrade } from './headers.js';
export { parseAuthority, parseAbsolute, tunnelPath, hostHeaderMatches, formatAuthority, type Target } from './target.js';
