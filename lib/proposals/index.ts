// Proposals: the file formats shared with supervise (types, files) and the host side that
// decides them (apply, with the risk summary shown first, and auto for the manifest's
// pre-approvals) and tells a running bundle about it (control).
export {
  AGENT_NOTE_MAX, DecisionSchema, isProposalId, normalizeHost, normalizeReason, noteForAgent, NOTE_MAX, PROPOSAL_ID_RE,
  PROPOSAL_KINDS, ProposalSchema, QUEUE_KINDS, REASON_MAX,
  type Decision, type Proposal, type ProposalInput, type ProposalKind, type ProposalStatus, type PushReview, type QueueKind,
} from './types.js';
export { hostBaseHash, isStale, policyHash, type PolicyHash } from './stale.js';
export {
  mintProposalId, PROPOSAL_FILE_MAX, ProposalFileError, readDecision, readProposal, readQueue, writeDecision,
  writeJsonAtomic, writeProposal, type QueueListing, type WriteProposalOptions,
} from './files.js';
export {
  approve, findProposal, listProposals, MIN_ID_PREFIX, planApproval, reject,
  type ApprovalPlan, type ApproveOptions, type ApproveResult, type FoundProposal, type ProposalListing, type ProposalRow,
} from './apply.js';
export { type BundleControl, type ControlChoice, noopControl } from './control.js';
export {
  autoApproveAll, autoApproveBottle, autoApproveRules, describeAutoApproval, matchAutoApprove,
  type AutoApproval, type AutoApprovedEvent, type ControlFor,
} from './auto.js';
export {
  assessRisk, insideAddress, riskLines,
  type CredentialUse, type PolicyStanding, type RiskInput, type RiskLevel, type RiskSummary,
} from './risk.js';
export { defaultRouteHeaders, suggestEnvVar } from './route-headers.js';
export { pushLines, readPushDiff } from './push.js';
