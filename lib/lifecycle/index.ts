// The bottle lifecycle (SPEC §5) on top of state + backends; verbs and the dashboard use it.
export { backendOf, bottleEnv, cliDeps, findBottle, lifecycleDeps, type LifecycleDeps } from './context.js';
export { claimBottle, startBottle, type StartOptions } from './start.js';
export { stopBottle, type StopOptions, type StopResult } from './stop.js';
export { planResume, readLaunchSpec, resumeBottle, routesFromPolicy, type LaunchSpec, type ResumePlan } from './resume.js';
export { lostWith, removeBottleFully } from './remove.js';
export { exportBottle, renderTranscript, type ExportResult } from './export.js';
export { describeSaved, readSavedSummary, saveWork, restoreWork, type SavedSummary } from './save.js';
export { planAttach, PROMPT_FILE, type AttachPlan } from './attach.js';
export { bottleStatuses, budgetStatus, displayState, engineLabel, eventMarks, EventMarks, inspectFleet, type FleetView, waitingFromEvents, type BottleStatus, type BudgetStatus, type LapsedInUse, type Marks } from './status.js';
export { cleanup, cleanupTargets, type CleanupItem } from './cleanup.js';
export { bundleControl } from './control.js';
export { pullAllBundles, pullBundles } from './sync.js';
export { policyFromPlan, policyTextFromPlan } from './policy.js';
export { budgetChange, budgetFilePath, changeBudget, readBudgetFile, type BudgetChange, type BudgetOptions } from './budget.js';
