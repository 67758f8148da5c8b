// The bottle lifecycle (SPEC §5) on top of state + backends; verbs and the dashboard use it.
export { backendOf, cliDeps, findBottle, lifecycleDeps, type LifecycleDeps } from './context.js';
export { claimBottle, startBottle, type StartOptions } from './start.js';
export { stopBottle, type StopResult } from './stop.js';
export { planAttach, PROMPT_FILE, type AttachPlan } from './attach.js';
export { bottleStatuses, waitingFromEvents, type BottleStatus } from './status.js';
export { cleanup, type CleanupItem } from './cleanup.js';
export { bundleControl } from './control.js';
export { policyFromPlan, policyTextFromPlan } from './policy.js';
