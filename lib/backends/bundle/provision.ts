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
  /**
   * `mayFail`: a non-zero exit does not stop provisioning ('quiet': not even a note); `what` names it in messages (default: the argv).
   * `edit`: the command's whole effect as a file edit (appendOnce of host file `append` to `path`), which a transport that can read
   * the agent's files (readAgentFile) makes with the other files instead of running the command.
   */
  | { kind: 'exec'; user: Principal; argv: string[]; workdir?: string; mayFail?: true | 'quiet'; what?: string; edit?: { path: string; append: string } };

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

// TRUST_CA_ARGV as a pure edit: `file` with `addition` appended, unless a line of `file` is
// already the second line of `addition`; undefined when nothing changes.
export function appendOnce(file: Buffer, addition: Buffer): Buffer | undefined {
  const marker = addition.toString('utf8').split('\n')[1] ?? '';
  if (file.toString('utf8').split('\n').includes(marker)) return undefined;
  return Buffer.concat([file, addition]);
}

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
        { kind: 'exec', user: 'root', argv: TRUST_CA_ARGV, what: `appending the CA to ${SYSTEM_CA_BUNDLE}`, edit: { path: SYSTEM_CA_BUNDLE, append: input.caCertHostPath } },
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
  /** Reads a regular file of the agent with its mode and owner (undefined: not one it can edit); lets an exec's `edit` replace it. */
  readAgentFile?(path: string): Promise<ProvisionFile | undefined>;
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

// The file half of runProvision (no command runs; a Docker agent need not have started): every
// write, copy and exec `edit` the transport can make, as one transfer, then each directory.
// Returns the commands left to run.
export async function provisionFiles(steps: ProvisionStep[], transport: ProvisionTransport, signal?: AbortSignal): Promise<ProvisionCommands> {
  const files: Array<{ step: ProvisionStep; file: Promise<ProvisionFile | undefined> }> = [];
  const commands: ProvisionCommands = [];
  for (const step of steps) {
    for (const a of step.actions) {
      if (a.kind === 'write') files.push({ step, file: Promise.resolve({ path: a.path, content: Buffer.from(a.content), mode: a.mode, owner: a.owner }) });
      if (a.kind === 'copy-file') files.push({ step, file: transport.readHostFile(a.from).then((content) => ({ path: a.path, content, mode: a.mode, owner: a.owner })) });
      if (a.kind !== 'exec') continue;
      const edit = a.edit;
      if (!edit || !transport.readAgentFile) {
        commands.push({ step, action: a });
        continue;
      }
      // Read side by side with everything else; the command runs when the file cannot be edited.
      files.push({ step, file: Promise.all([transport.readAgentFile(edit.path), transport.readHostFile(edit.append)]).then(([current, addition]) => {
        if (!current) {
          commands.push({ step, action: a });
          return undefined;
        }
        const content = appendOnce(current.content, addition);
        return content ? { ...current, content } : undefined;
      }) });
    }
  }
  // Every read settles before the first failure is reported (none is left unobserved).
  const read = await Promise.allSettled(files.map((f) => f.file));
  const written: ProvisionFile[] = [];
  for (const [i, r] of read.entries()) {
    if (r.status === 'rejected') await inStep(files[i]!.step, () => Promise.reject(r.reason), signal);
    else if (r.value) written.push(r.value);
  }
  if (written.length > 0) {
    const owners = [...new Set(files.map((f) => f.step.name))];
    await inStep({ name: owners.join('+') }, () => transport.write(written), signal);
  }
  for (const step of steps) {
    for (const a of step.actions) if (a.kind === 'copy-dir') await inStep(step, () => transport.copyDir(a.from, a.path, a.owner), signal);
  }
  // In step order, whenever their edit was given up.
  const order = (c: ProvisionCommands[number]): number => steps.indexOf(c.step) * 1000 + c.step.actions.indexOf(c.action);
  return commands.sort((x, y) => order(x) - order(y));
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
