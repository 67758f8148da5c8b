// SPEC §5 provision: WHAT goes into the agent (files and commands, as pure data) apart from HOW
// it gets there (a transport: Docker putArchive/exec, smolvm `machine cp`/`exec`), so both
// backends run the same step list and tests assert it without an engine.
import { basename } from 'node:path';
import type { BottlePlan } from '../../plan/index.js';
import { agentPrompt } from '../../plan/prompt.js';
import { AGENT_PATHS, PLACEHOLDER_API_KEY } from './names.js';

// Who owns a written file or runs a command: the agent's user, or root (system trust store).
export type Principal = 'root' | 'agent';

// One thing done to the agent: a file written or copied, a directory copied, a command run.
export type ProvisionAction =
  | { kind: 'write'; path: string; content: string; mode: number; owner: Principal }
  | { kind: 'copy-file'; from: string; path: string; mode: number; owner: Principal }
  /** Copies a host directory's content to `path` (created), owned by `owner`. */
  | { kind: 'copy-dir'; from: string; path: string; owner: Principal }
  /** `mayFail`: a non-zero exit does not stop provisioning ('quiet': not even a note); `what` names it in messages (default: the argv). */
  | { kind: 'exec'; user: Principal; argv: string[]; workdir?: string; mayFail?: true | 'quiet'; what?: string };

// One named step; `label` is its progress line.
export interface ProvisionStep { name: string; label: string; actions: ProvisionAction[] }

// What the step list is computed from (no secret among it).
export interface ProvisionInput {
  plan: Pick<BottlePlan, 'agent' | 'prompt' | 'supervise' | 'skills' | 'workspace' | 'git'>;
  /** Host path of the bundle CA certificate (never the key). */
  caCertHostPath: string;
  /** The supervise MCP/hook base URL, when supervise runs. */
  superviseUrl?: string;
  /** Base URL of git-gate's mirrors (default `git://git-gate`; smolvm: `git://<bundle-ip>:9418`). */
  gitGateUrl?: string;
}

// Docker reaches git-gate by its network alias; a VM without DNS gets the bundle's IP instead.
export const DEFAULT_GIT_GATE_URL = 'git://git-gate';

// ~/.gitconfig: every upstream URL is rewritten to the git-gate mirror of the same name.
export function gitconfigText(plan: ProvisionInput['plan'], gitGateUrl = DEFAULT_GIT_GATE_URL): string {
  const lines = [
    '[user]',
    `\tname = ${plan.agent} (bottle)`,
    `\temail = ${plan.agent}@bottle.invalid`,
    '[init]',
    '\tdefaultBranch = main',
  ];
  for (const g of plan.git) lines.push(`[url "${gitGateUrl}/${g.name}.git"]`, `\tinsteadOf = ${g.upstream}`);
  return `${lines.join('\n')}\n`;
}

// ~/.claude/settings.json: no bypass-mode dialog; Notification (waiting for input) and Stop
// (turn ended) hook events POSTed to supervise, which the dashboard reads. A command hook with
// curl, not an `http` hook: claude (2.1.3xx) refuses http hooks to private addresses ("HTTP hook
// blocked: supervise resolves to 172.x (private/link-local address)"), and the bundle is one.
// The event JSON arrives on stdin; NO_PROXY names the bundle, so curl goes straight to it.
export function hookCommand(superviseUrl: string): string {
  return `curl -sS -m 5 -o /dev/null -H 'content-type: application/json' --data-binary @- ${superviseUrl}/hooks/claude || true`;
}

export function claudeSettings(superviseUrl: string | undefined): Record<string, unknown> {
  const settings: Record<string, unknown> = { skipDangerousModePermissionPrompt: true };
  if (superviseUrl) {
    const hook = [{ hooks: [{ type: 'command', command: hookCommand(superviseUrl), timeout: 10 }] }];
    settings.hooks = { Notification: hook, Stop: hook };
  }
  return settings;
}

// ~/.claude.json before first start: onboarding done, the placeholder key pre-approved (claude
// stores a key's last 20 characters), the workspace trusted, and the supervise MCP server
// registered at user scope (what `claude mcp add --transport http -s user` writes, checked
// against claude 2.1.x; written directly because running claude for it costs ~1 s). User scope
// rather than --mcp-config at attach: the registration then holds however the operator starts
// claude in the bottle (attach, a shell, resume).
export function claudeState(superviseUrl?: string): Record<string, unknown> {
  return {
    hasCompletedOnboarding: true,
    customApiKeyResponses: { approved: [PLACEHOLDER_API_KEY.trim().slice(-20)], rejected: [] },
    projects: { [AGENT_PATHS.workspace]: { hasTrustDialogAccepted: true } },
    ...(superviseUrl ? { mcpServers: { supervise: { type: 'http', url: `${superviseUrl}/mcp` } } } : {}),
  };
}

// The system bundle curl, git and OpenSSL read. Appending the CA (once) is what
// update-ca-certificates would end up doing for it, at a fraction of its ~1 s; node reads the
// certificate itself through NODE_EXTRA_CA_CERTS.
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
export const TRUST_CA_ARGV = ['sh', '-c', 'grep -qxF "$(sed -n 2p "$1")" "$2" || cat "$1" >> "$2"', 'trust-ca', AGENT_PATHS.caCert, SYSTEM_CA_BUNDLE];

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

// The steps, in order. Pure.
export function provisionSteps(input: ProvisionInput): ProvisionStep[] {
  const { plan, superviseUrl } = input;
  const home = AGENT_PATHS.home;
  const steps: ProvisionStep[] = [
    {
      name: 'trust-ca',
      label: 'bundle CA into the trust store',
      actions: [
        { kind: 'copy-file', from: input.caCertHostPath, path: AGENT_PATHS.caCert, mode: 0o644, owner: 'root' },
        { kind: 'exec', user: 'root', argv: TRUST_CA_ARGV, what: `appending the CA to ${SYSTEM_CA_BUNDLE}` },
      ],
    },
    {
      name: 'gitconfig',
      label: 'git config (upstreams through git-gate)',
      actions: [{ kind: 'write', path: `${home}/.gitconfig`, content: gitconfigText(plan, input.gitGateUrl), mode: 0o644, owner: 'agent' }],
    },
    {
      name: 'claude-config',
      label: superviseUrl ? 'claude settings, hooks and the supervise MCP server' : 'claude settings',
      actions: [
        { kind: 'write', path: `${AGENT_PATHS.claudeDir}/settings.json`, content: json(claudeSettings(superviseUrl)), mode: 0o644, owner: 'agent' },
        { kind: 'write', path: `${home}/.claude.json`, content: json(claudeState(superviseUrl)), mode: 0o600, owner: 'agent' },
      ],
    },
  ];
  const prompt = agentPrompt(plan);
  if (prompt !== undefined) {
    steps.push({
      name: 'prompt',
      label: 'system prompt file',
      actions: [{ kind: 'write', path: AGENT_PATHS.prompt, content: prompt, mode: 0o644, owner: 'agent' }],
    });
  }
  if (plan.skills.length > 0) {
    steps.push({
      name: 'skills',
      label: `skills (${plan.skills.map((s) => basename(s)).join(', ')})`,
      actions: plan.skills.map((s) => ({ kind: 'copy-dir', from: s, path: `${AGENT_PATHS.claudeDir}/skills/${basename(s)}`, owner: 'agent' })),
    });
  }
  if (plan.workspace) {
    steps.push({
      name: 'workspace',
      label: `workspace from ${plan.workspace}`,
      actions: [
        { kind: 'copy-dir', from: `${plan.workspace}/.git`, path: `${AGENT_PATHS.workspace}/.git`, owner: 'agent' },
        // `checkout -f` makes the working tree (and the index) the last commit: uncommitted work,
        // staged or not, stays on the host (start warns). An empty repo has no commit: mayFail.
        { kind: 'exec', user: 'agent', argv: ['git', 'checkout', '-f', '--quiet'], workdir: AGENT_PATHS.workspace, mayFail: true },
      ],
    });
  }
  return steps;
}

// HOW: moving files and running commands in a sandbox. Docker: putArchive/exec; smolvm: cp/exec.
export interface ProvisionTransport {
  /** Writes files (parents created, owned by `owner`). */
  write(files: ProvisionFile[]): Promise<void>;
  copyDir(from: string, path: string, owner: Principal): Promise<void>;
  exec(user: Principal, argv: string[], workdir?: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Reads a host file (the CA certificate). */
  readHostFile(path: string): Promise<Buffer>;
}

// A file provisioning writes.
export interface ProvisionFile { path: string; content: Buffer; mode: number; owner: Principal }

const lastLine = (s: string): string => s.trim().split('\n').slice(-2).join(' | ');

type ExecAction = Extract<ProvisionAction, { kind: 'exec' }>;

// Runs the steps through a transport, one progress line per step: every file first (writes
// batched into one transfer, directories streamed), then the commands in step order (no step's
// files depend on another step's command). Stops at the first failure with the step's name in
// the error; checks `signal` between transfers and commands.
export async function runProvision(
  steps: ProvisionStep[],
  transport: ProvisionTransport,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const started = Date.now();
  for (const step of steps) log(`provision: ${step.label}`);
  const commands = await provisionFiles(steps, transport, signal);
  await provisionCommands(commands, transport, log, signal);
  const ms = Date.now() - started;
  if (ms >= 1000) log(`provision: done (${(ms / 1000).toFixed(1)}s)`);
}

const inStep = async (step: Pick<ProvisionStep, 'name'>, run: () => Promise<void>, signal?: AbortSignal): Promise<void> => {
  signal?.throwIfAborted();
  try {
    await run();
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new Error(`provisioning step ${step.name} failed: ${(e as Error).message}`, { cause: e });
  }
};

// The commands still to run after provisionFiles, each with its step.
export type ProvisionCommands = Array<{ step: ProvisionStep; action: ExecAction }>;

// The file half of runProvision (no command runs; a Docker agent need not have started yet):
// every write and copy as one transfer, then each directory. Returns the commands to run.
export async function provisionFiles(steps: ProvisionStep[], transport: ProvisionTransport, signal?: AbortSignal): Promise<ProvisionCommands> {
  const files: ProvisionFile[] = [];
  for (const step of steps) {
    for (const a of step.actions) {
      if (a.kind === 'write') files.push({ path: a.path, content: Buffer.from(a.content), mode: a.mode, owner: a.owner });
      if (a.kind === 'copy-file') await inStep(step, async () => { files.push({ path: a.path, content: await transport.readHostFile(a.from), mode: a.mode, owner: a.owner }); }, signal);
    }
  }
  if (files.length > 0) {
    const owners = steps.filter((s) => s.actions.some((a) => a.kind === 'write' || a.kind === 'copy-file'));
    await inStep({ name: owners.map((s) => s.name).join('+') }, () => transport.write(files), signal);
  }
  for (const step of steps) {
    for (const a of step.actions) if (a.kind === 'copy-dir') await inStep(step, () => transport.copyDir(a.from, a.path, a.owner), signal);
  }
  return steps.flatMap((step) => step.actions.flatMap((action) => (action.kind === 'exec' ? [{ step, action }] : [])));
}

// The command half of runProvision: the commands in order.
export async function provisionCommands(commands: ProvisionCommands, transport: ProvisionTransport, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
  for (const { step, action } of commands) await inStep(step, () => runExec(action, transport, log), signal);
}

async function runExec(a: ExecAction, t: ProvisionTransport, log: (line: string) => void): Promise<void> {
  const r = await t.exec(a.user, a.argv, a.workdir);
  if (r.exitCode === 0) return;
  const detail = lastLine(r.stderr || r.stdout);
  const what = a.what ?? a.argv.join(' ');
  if (a.mayFail === 'quiet') return;
  if (a.mayFail) {
    log(`provision: note: ${what} exited ${r.exitCode}${detail ? `: ${detail}` : ''} (ignored)`);
    return;
  }
  throw new Error(`${what} exited ${r.exitCode}${detail ? `: ${detail}` : ''}`);
}
