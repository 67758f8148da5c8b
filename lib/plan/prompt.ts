// The text appended to claude's system prompt in a bottle: the manifest's prompt, then (with
// supervise on) bottle's own note on the decision loop. Pure; provisioning writes it to the
// prompt file, attach passes that file, the preflight shows that the note is there.
import type { BottlePlan } from './prepare.js';

// Two sentences: what a refusal looks like, and the exact call that asks the operator (the
// gateway's 403 names the same call for the host it refused).
export const ASK_PROMPT = 'Network access from this sandbox goes through the bottle gateway: a request to a host the policy does not allow '
  + 'fails with HTTP 403 and a body (and status text) starting "blocked:" that says why, for HTTPS as well, so do not look for a way '
  + 'around it through another host, mirror, proxy or tool. '
  + 'To ask the operator for access, call the supervise MCP tool propose_allowlist_change (mcp__supervise__propose_allowlist_change) '
  + 'with {"host": "<the host>", "reason": "<why you need it>"}; it waits for the operator\'s decision, and once it is approved you retry the request.';

// The preflight's one-line mention of ASK_PROMPT.
export const ASK_PROMPT_SUMMARY = '+ bottle\'s note: a 403 "blocked: ..." means ask with propose_allowlist_change';

// With push review on some remote: a held `git push` is not stuck, and how it ends.
export function reviewPrompt(remotes: readonly string[]): string {
  return `A git push to ${remotes.join(', ')} waits for the operator's review before anything leaves ("waiting for operator review"): `
    + 'let it run; it succeeds once approved, or fails with the operator\'s note saying what to change.';
}

// The whole appended prompt, or undefined when there is nothing to append.
export function agentPrompt(plan: Pick<BottlePlan, 'prompt' | 'supervise'> & { git?: BottlePlan['git'] }): string | undefined {
  const reviewed = (plan.git ?? []).filter((g) => g.review).map((g) => g.name);
  const parts = [plan.prompt?.trim() || undefined, plan.supervise ? ASK_PROMPT : undefined, reviewed.length ? reviewPrompt(reviewed) : undefined]
    .filter((p): p is string => p !== undefined);
  return parts.length > 0 ? `${parts.join('\n\n')}\n` : undefined;
}
