// Changing a bottle's live policy from the host: the file and its lock, text transforms that keep
// the operator's comments, change summaries, and the $EDITOR-driven section edit.
export { POLICY_FILE_NAME, policyFilePath, policyLockPath, readPolicyFile, withPolicyLock, writePolicyFile, type PolicySnapshot } from './store.js';
export { applySection, rewritePolicy, SECTIONS, sectionText, type SectionEdit, type SectionName } from './text.js';
export { diffPolicies, newRouteVars, requireEnv } from './diff.js';
export { editorArgv, runEditor } from './editor.js';
export { editPolicy, type EditDeps, type EditResult } from './edit.js';
