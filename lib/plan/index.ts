// The plan module's public surface.
export {
  ANTHROPIC_HOST, ANTHROPIC_KEY_VAR, checkBackend, defaultAnthropicRoute, expandPath, preparePlan, routeVarNames,
  type BottlePlan, type PlanGitRemote, type PlanHeader, type PlanOptions, type PlanRoute,
} from './prepare.js';
export { headerSource, planLines, renderPlan } from './render.js';
export { agentPrompt, ASK_PROMPT } from './prompt.js';
export { checkPlanPaths, formatPlanProblem, planErrors, planIssue, planProblems, type PlanIssue, type PlanProblem } from './check.js';
export { engineChoices, engineEnv, engineText, manifestEngine, resolveEngine, unknownEngineText, type EngineChoice, type PlanEngine } from './engine.js';
