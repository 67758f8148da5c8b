// Attaching: claude with a recorded session id — `--session-id` the first time, `--resume`
// once a transcript for that id exists in the agent, a fresh id when there is nothing to
// resume. Decided from state before starting claude, never by retrying a failed claude.
import { randomUUID } from 'node:crypto';
import { updateMetadata, type Metadata } from '../state/index.js';
import { backendOf, findBottle, type LifecycleDeps } from './context.js';

// Where provisioning puts the manifest prompt inside the agent.
export const PROMPT_FILE = '/home/node/.bottle/prompt.md';

export interface AttachPlan { meta: Metadata; argv: string[]; sessionId: string; resume: boolean }

// Whether claude has a transcript for this session id in the agent (a probe; never throws).
async function hasTranscript(deps: LifecycleDeps, meta: Metadata, sessionId: string): Promise<boolean> {
  const backend = await backendOf(deps, meta);
  try {
    const r = await backend.exec(meta, ['sh', '-c', 'ls /home/node/.claude/projects/*/"$1".jsonl >/dev/null 2>&1', 'sh', sessionId]);
    return r.exitCode === 0;
  } catch {
    return false;
  }
}

// The claude argv for the bottle, with the session decision recorded in metadata.
export async function planAttach(deps: LifecycleDeps, slug: string): Promise<AttachPlan> {
  const meta = await findBottle(deps, slug);
  const backend = await backendOf(deps, meta);
  const recorded = meta.claudeSessionId;
  const resume = recorded !== undefined && await hasTranscript(deps, meta, recorded);
  const sessionId = resume ? recorded! : randomUUID();
  if (!resume) await updateMetadata(deps.root, meta.slug, { claudeSessionId: sessionId });
  const args = [
    resume ? '--resume' : '--session-id', sessionId,
    // The bottle is the sandbox: claude runs without per-tool prompts, as a non-root user.
    '--dangerously-skip-permissions',
  ];
  if (meta.backendData?.promptFile !== undefined || meta.backendData?.hasPrompt === true) {
    args.push('--append-system-prompt-file', String(meta.backendData?.promptFile ?? PROMPT_FILE));
  }
  return { meta, argv: backend.attachArgv(meta, { args }), sessionId, resume };
}
