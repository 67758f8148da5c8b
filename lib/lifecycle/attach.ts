// Attaching: claude with a recorded session id — `--session-id` the first time, `--resume`
// once a transcript for that id exists in the agent, a fresh id when there is nothing to
// resume. Decided from state before starting claude, never by retrying a failed claude.
import { randomUUID } from 'node:crypto';
import { UserError } from '../errors.js';
import { updateMetadata, type Metadata } from '../state/index.js';
import { AGENT_PATHS } from '../backends/bundle/names.js';
import { backendOf, findBottle, type LifecycleDeps } from './context.js';

// Where provisioning puts the manifest prompt inside the agent.
export const PROMPT_FILE = '/home/node/.bottle/prompt.md';

export interface AttachPlan { meta: Metadata; argv: string[]; sessionId: string; resume: boolean }

// Whether claude has a transcript for this session id in the agent (a probe; never throws).
async function hasTranscript(deps: LifecycleDeps, meta: Metadata, sessionId: string): Promise<boolean> {
  const backend = await backendOf(deps, meta);
  try {
    const r = await backend.exec(meta, ['sh', '-c', 'ls "$1"/*/"$2".jsonl >/dev/null 2>&1', 'sh', AGENT_PATHS.transcripts, sessionId]);
    return r.exitCode === 0;
  } catch {
    return false;
  }
}

// The claude argv for the bottle, with the session decision recorded in metadata (not for a
// look at the argv: `record: false`). A bottle whose containers are not running is an error
// that says so, not the engine's raw exec failure.
export async function planAttach(deps: LifecycleDeps, slug: string, opts: { record?: boolean } = {}): Promise<AttachPlan> {
  const meta = await findBottle(deps, slug);
  const backend = await backendOf(deps, meta);
  let engine: string | undefined;
  try {
    engine = (await backend.inspect([meta])).get(meta.slug);
  } catch { /* the engine cannot be asked: let the attach itself report it */ }
  if (meta.state === 'stopped') throw new UserError(`${meta.slug} is stopped; bring it back with: bottle resume ${meta.slug}`);
  if (engine !== undefined && engine !== 'running') {
    throw new UserError(`${meta.slug} is down (engine: ${engine === 'missing' ? 'its containers are gone' : engine}); \`bottle resume ${meta.slug}\` brings it back`);
  }
  const recorded = meta.claudeSessionId;
  const resume = recorded !== undefined && await hasTranscript(deps, meta, recorded);
  const sessionId = resume ? recorded! : randomUUID();
  if (!resume && opts.record !== false) await updateMetadata(deps.root, meta.slug, { claudeSessionId: sessionId });
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
