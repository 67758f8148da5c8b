// What the dashboard puts in the right tmux pane: a log tail (bring-up, teardown) or an agent's
// claude session, labelled with the agent, with the occupant's slug recorded on the pane so a
// restarted dashboard knows who is there. RightPane does the tmux state machine underneath.
import type { TmuxClient } from '../tmux/client.js';
import type { RightPane } from '../tmux/right-pane.js';

// Pane user option naming the bottle in the right pane (read back after a dashboard restart).
export const OCCUPANT_OPTION = '@bottle-occupant';

// Non-secret variables the pane's command needs to find the same state and engine as this
// dashboard: tmux starts pane commands with the SERVER's environment, not ours.
const FORWARDED = [
  /^BOTTLE_(STATE_DIR|TEST_BACKEND|FAKE_STEP_MS|FAKE_FAIL|FROM_SOURCE|DEBUG)$/,
  /^XDG_(STATE|CONFIG)_HOME$/,
  /^DOCKER_(HOST|CONTEXT|CONFIG|CERT_PATH|TLS_VERIFY)$/,
];

// argv prefixed with `env NAME=value` for the forwarded variables that are set. Values end up in
// tmux's argv (visible in ps), which is why only these non-secret names are forwarded.
export function paneCommand(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const pairs = Object.keys(env)
    .filter((k) => FORWARDED.some((re) => re.test(k)) && env[k] !== undefined)
    .sort()
    .map((k) => `${k}=${env[k]}`);
  return pairs.length > 0 ? ['env', ...pairs, ...argv] : [...argv];
}

// The argv that follows a log file from its first line, surviving its removal.
export function tailArgv(file: string): string[] {
  return ['tail', '-F', '-n', '+1', file];
}

// Drives the right pane for the dashboard.
export class RightDirector {
  readonly #pane: RightPane;
  readonly #client: TmuxClient;
  readonly #bottleArgv: readonly string[];
  readonly #env: NodeJS.ProcessEnv;
  #generation = 0;

  constructor(pane: RightPane, client: TmuxClient, bottleArgv: readonly string[], env: NodeJS.ProcessEnv) {
    this.#pane = pane;
    this.#client = client;
    this.#bottleArgv = bottleArgv;
    this.#env = env;
  }

  get paneId(): string | undefined {
    return this.#pane.paneId;
  }

  // Bumped whenever the pane is given something else to show: a flow that waited (bring-up,
  // teardown) only acts on the pane if nobody has repurposed it meanwhile.
  get generation(): number {
    return this.#generation;
  }

  // Follows a log in the right pane; keyboard focus stays where it is.
  async tail(file: string, label: string, occupant: string): Promise<void> {
    this.#generation++;
    const id = await this.#pane.ensure(tailArgv(file), { label });
    await this.#mark(id, occupant);
  }

  // The agent's claude session (resumed when it has one) in the right pane.
  async attach(slug: string, label: string, focus: boolean): Promise<void> {
    this.#generation++;
    const id = await this.#pane.ensure(paneCommand([...this.#bottleArgv, 'attach', slug], this.#env), { label, focus });
    await this.#mark(id, slug);
  }

  // Any bottle command in the right pane, focused (e.g. a proposal in the pager).
  async show(argv: readonly string[], label: string, occupant: string): Promise<void> {
    this.#generation++;
    const id = await this.#pane.ensure(paneCommand(argv, this.#env), { label, focus: true });
    await this.#mark(id, occupant);
  }

  async label(text: string): Promise<void> {
    await this.#pane.label(text);
  }

  async close(): Promise<void> {
    this.#generation++;
    await this.#pane.close();
  }

  exists(): Promise<boolean> {
    return this.#pane.exists();
  }

  async select(): Promise<boolean> {
    return this.#pane.select();
  }

  // Takes over the right pane of an earlier dashboard; returns who is in it, if known.
  async adopt(): Promise<{ paneId: string; occupant?: string } | undefined> {
    const paneId = await this.#pane.adopt();
    if (!paneId) return undefined;
    const occupant = await this.#client.showOption({ scope: 'pane', target: paneId, name: OCCUPANT_OPTION });
    return { paneId, ...(occupant ? { occupant: occupant.trim() } : {}) };
  }

  async #mark(id: string, occupant: string): Promise<void> {
    // Best effort: a pane that died in between just has no record.
    await this.#client.setOption({ scope: 'pane', target: id, name: OCCUPANT_OPTION, value: occupant }).catch(() => undefined);
  }
}
