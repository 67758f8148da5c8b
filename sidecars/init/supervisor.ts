// The bundle's process supervisor: runs each daemon, restarts the ones that die (with backoff)
// while the others keep running, forwards signals, and turns the children's endings into an exit code.
//
// Reaping: node waits only for the children it spawned; it cannot waitpid(-1), so as PID 1 it
// would leave orphaned grandchildren (e.g. git daemon's forks whose parent died) as zombies.
// The bundle therefore runs under Docker's init (`HostConfig.Init: true` / `docker run --init`,
// i.e. tini as PID 1 forwarding signals to us) — init warns when it finds itself PID 1 without it.
// Each daemon also gets its own process group: when its leader exits, the whole group is
// SIGKILLed, so a restarted daemon never finds its predecessor's children holding its port.
import type { Readable } from 'node:stream';
import { spawnChild, type Child, type ChildExit } from '../../lib/run/spawn.js';
import { DEFAULT_BACKOFF, nextDelay, type BackoffPolicy, type RestartHistory } from './backoff.js';
import type { DaemonSpec } from './config.js';
import { combinedExitCode } from './exit.js';
import { LinePrefixer } from './lines.js';
import { READY_FD_ENV } from '../ready.js';
import { appendEvent, formatEvent, type BundleEvent } from '../supervise/events.js';

// How long extra replicas wait for the first one's readiness before starting anyway (default).
const STAGGER_MS = 3000;

type EventBody = BundleEvent extends infer E ? (E extends BundleEvent ? Omit<E, 'time'> : never) : never;

// Everything the supervisor touches is passed in: output sinks, env, clock, timings.
export interface SupervisorOptions {
  daemons: DaemonSpec[];
  env: NodeJS.ProcessEnv;
  /** Receives stdout lines: children's (prefixed `[name] `) and init's own JSON events. */
  out: (line: string) => void;
  /** Receives children's stderr lines (prefixed) and init's own complaints. */
  err: (line: string) => void;
  eventsFile?: string;
  /** How long children get between the forwarded SIGTERM/SIGINT and SIGKILL. */
  graceMs?: number;
  backoff?: BackoffPolicy;
  /** The daemon that receives SIGHUP (policy reload). */
  hupTarget?: string;
  /** How long extra replicas wait for every daemon's first one to serve (default STAGGER_MS). */
  staggerMs?: number;
  /** Called once, when every supervised process has reported ready at least once. */
  onAllReady?: () => void;
  now?: () => number;
}

// One supervised process: a daemon, or one replica of it.
interface Slot {
  spec: DaemonSpec;
  /** Set when the daemon runs more than one process. */
  replica?: number;
  child?: Child;
  history: RestartHistory;
  restarts: number;
  timer?: NodeJS.Timeout;
  streamsClosed: Promise<void>;
}

// Supervises a fixed set of daemons until shut down; `done` resolves with init's exit code.
export class Supervisor {
  readonly done: Promise<number>;
  private resolveDone!: (code: number) => void;
  private readonly slots: Slot[];
  private readonly endings: ChildExit[] = [];
  private shuttingDown = false;
  private shutdownSignal?: NodeJS.Signals;
  private finished = false;
  private graceTimer?: NodeJS.Timeout;
  private keepAlive?: NodeJS.Timeout;
  private eventsFileBroken = false;
  private readonly now: () => number;
  private readonly streams = new Set<Readable>();
  private readonly everReady = new Set<Slot>();

  constructor(private readonly opts: SupervisorOptions) {
    this.done = new Promise((r) => { this.resolveDone = r; });
    this.now = opts.now ?? Date.now;
    this.slots = opts.daemons.flatMap((spec) => {
      const n = spec.replicas ?? 1;
      return Array.from({ length: n }, (_, i): Slot => ({
        spec, ...(n > 1 ? { replica: i } : {}), history: { startedAt: 0, lastDelayMs: null }, restarts: 0, streamsClosed: Promise.resolve(),
      }));
    });
  }

  start(): void {
    if (process.pid === 1) {
      this.event({ type: 'init-warning', message: 'running as PID 1: orphaned grandchildren will not be reaped; run the bundle with `docker run --init` (HostConfig.Init)' });
    }
    this.event({ type: 'init-started', pid: process.pid, daemons: this.opts.daemons.map((d) => d.name) });
    // With no daemons (or all in backoff) nothing else keeps node alive until a signal arrives.
    this.keepAlive = setInterval(() => undefined, 1 << 30);
    // A daemon's extra replicas start once every daemon's first one serves (or after
    // staggerMs): at bring-up the first replicas then share the CPU with fewer processes.
    for (const slot of this.slots) {
      if (!slot.replica) this.spawn(slot, null);
      else slot.timer = setTimeout(() => this.startDeferred(slot), this.opts.staggerMs ?? STAGGER_MS);
    }
  }

  // Entry point for the signals init itself receives.
  signal(sig: NodeJS.Signals): void {
    if (sig === 'SIGHUP') return this.forwardHup();
    if (sig === 'SIGTERM' || sig === 'SIGINT') return this.shutdown(sig);
  }

  private forwardHup(): void {
    const name = this.opts.hupTarget ?? 'gateway';
    const live = this.slots.filter((s) => s.spec.name === name && s.child?.pid !== undefined);
    if (!this.shuttingDown && live.length > 0) {
      for (const slot of live) slot.child!.kill('SIGHUP');
      this.event({ type: 'signal', signal: 'SIGHUP', action: 'forward', daemons: [name] });
    } else {
      this.event({ type: 'signal', signal: 'SIGHUP', action: 'ignored', daemons: [] });
    }
  }

  private shutdown(sig: NodeJS.Signals): void {
    if (this.shuttingDown) {
      // A second SIGTERM/SIGINT (an impatient operator) skips the rest of the grace period.
      this.event({ type: 'signal', signal: sig, action: 'force-kill', daemons: this.running().map((s) => s.spec.name) });
      this.killAll();
      return;
    }
    this.shuttingDown = true;
    this.shutdownSignal = sig;
    for (const slot of this.slots) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    const running = this.running();
    this.event({ type: 'signal', signal: sig, action: 'shutdown', daemons: running.map((s) => s.spec.name) });
    for (const slot of running) slot.child!.killGroup(sig);
    this.graceTimer = setTimeout(() => this.killAll(), this.opts.graceMs ?? 8000);
    this.maybeFinish();
  }

  private killAll(): void {
    for (const slot of this.running()) slot.child!.killGroup('SIGKILL');
  }

  private running(): Slot[] {
    return this.slots.filter((s) => s.child !== undefined);
  }

  private spawn(slot: Slot, delayBefore: number | null): void {
    const { name } = slot.spec;
    const { argv, env } = slot.spec.instance?.(slot.replica ?? 0) ?? { argv: slot.spec.argv };
    const startedAt = this.now();
    slot.history = { startedAt, lastDelayMs: delayBefore };
    // detached: its own process group, so group signals reach its children and a terminal's
    // Ctrl-C reaches only init (which forwards it once).
    // After the inherited fds: the readiness pipe (see sidecars/ready.ts).
    const readyFd = 3 + (slot.spec.fds ?? []).length;
    const child = spawnChild(argv, {
      env: { ...this.opts.env, ...slot.spec.env, ...env, [READY_FD_ENV]: String(readyFd) },
      stdio: ['ignore', 'pipe', 'pipe', ...(slot.spec.fds ?? []), 'pipe'],
      detached: true,
    });
    slot.child = child;
    // A command that cannot start ends like one that exits 127 (restarted with the same backoff);
    // the event keeps the system's words for it (`spawn ... ENOENT`).
    child.exited.then(
      (ending) => this.onEnded(slot, child, ending, startedAt),
      (e: Error) => this.onEnded(slot, child, { exitCode: 127, signal: null }, startedAt, e.cause instanceof Error ? e.cause.message : e.message),
    );
    slot.streamsClosed = Promise.all([
      this.pipe(child.stdout, `[${name}] `, this.opts.out),
      this.pipe(child.stderr, `[${name}] `, this.opts.err),
    ]).then(() => undefined);
    if (child.pid !== undefined) this.event({ type: 'daemon-started', daemon: name, ...this.replicaOf(slot), pid: child.pid, restarts: slot.restarts });
    this.watchReady(slot, child, child.stdio[readyFd] as Readable | null, startedAt);
  }

  // Starts a replica held back at start (no-op once it has run or while shutting down).
  private startDeferred(slot: Slot): void {
    if (slot.child || slot.restarts > 0 || slot.history.startedAt !== 0 || this.shuttingDown) return;
    clearTimeout(slot.timer);
    slot.timer = undefined;
    this.spawn(slot, null);
  }

  // One `daemon-ready` event when the daemon writes to its readiness pipe.
  private watchReady(slot: Slot, child: Child, stream: Readable | null, startedAt: number): void {
    if (!stream) return;
    // Tracked like the output pipes: a grandchild holding the write end must not keep init alive.
    this.streams.add(stream);
    stream.once('close', () => this.streams.delete(stream));
    let told = false;
    stream.on('data', () => {
      if (told || slot.child !== child || child.pid === undefined) return;
      told = true;
      this.event({ type: 'daemon-ready', daemon: slot.spec.name, ...this.replicaOf(slot), pid: child.pid, startMs: this.now() - startedAt });
      if (this.everReady.size < this.slots.length && this.everReady.add(slot).size === this.slots.length) this.opts.onAllReady?.();
      // Extra replicas start once every daemon's first one serves: until the bundle is ready,
      // a starting replica only takes CPU from the daemons the bottle still waits for.
      if (!slot.replica && this.slots.every((s) => s.replica || this.everReady.has(s))) {
        for (const s of this.slots) if (s.replica) this.startDeferred(s);
      }
    });
    stream.on('error', () => undefined);
  }

  private pipe(stream: Readable | null, prefix: string, emit: (line: string) => void): Promise<void> {
    if (!stream) return Promise.resolve();
    this.streams.add(stream);
    const lines = new LinePrefixer(prefix, emit);
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => lines.push(chunk));
    return new Promise((resolve) => {
      stream.once('close', () => { lines.flush(); this.streams.delete(stream); resolve(); });
      stream.once('error', () => resolve());
    });
  }

  private onEnded(slot: Slot, child: Child, ending: ChildExit, startedAt: number, error?: string): void {
    if (slot.child === child) slot.child = undefined;
    // Leftovers of the dead daemon (its own children) must not outlive it.
    child.killGroup('SIGKILL');
    const base = {
      daemon: slot.spec.name, ...this.replicaOf(slot), pid: child.pid ?? null, exitCode: ending.exitCode,
      signal: ending.signal, uptimeMs: this.now() - startedAt, ...(error ? { error } : {}),
    };
    if (this.shuttingDown) {
      // Ended by the very signal init forwarded (a daemon still starting has no handler yet):
      // it did what it was asked, which is no failure.
      this.endings.push(ending.signal !== null && ending.signal === this.shutdownSignal ? { exitCode: 0, signal: null } : ending);
      this.event({ type: 'daemon-exited', ...base, restartInMs: null });
      this.maybeFinish();
      return;
    }
    const delay = nextDelay(slot.history, this.now(), this.opts.backoff ?? DEFAULT_BACKOFF);
    this.event({ type: 'daemon-exited', ...base, restartInMs: delay });
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      slot.restarts += 1;
      this.spawn(slot, delay);
    }, delay);
  }

  private replicaOf(slot: Slot): { replica?: number } {
    return slot.replica === undefined ? {} : { replica: slot.replica };
  }

  private maybeFinish(): void {
    if (this.finished || !this.shuttingDown || this.running().length > 0) return;
    this.finished = true;
    clearTimeout(this.graceTimer);
    clearInterval(this.keepAlive);
    const code = combinedExitCode(this.endings);
    // Let the children's last lines drain, but never hang on a pipe a stray process still holds.
    const drained = Promise.all(this.slots.map((s) => s.streamsClosed));
    const cap = new Promise<void>((r) => setTimeout(r, 500).unref());
    void Promise.race([drained, cap]).then(() => {
      for (const s of this.streams) s.destroy();
      this.event({ type: 'init-exited', exitCode: code });
      this.resolveDone(code);
    });
  }

  private event(body: EventBody): void {
    const ev = { time: new Date(this.now()).toISOString(), ...body } as BundleEvent;
    this.opts.out(formatEvent(ev));
    const e = appendEvent(this.opts.eventsFile, ev);
    if (e && !this.eventsFileBroken) {
      this.eventsFileBroken = true;
      this.opts.err(`[init] cannot append to events file ${this.opts.eventsFile}: ${e.message}`);
    }
  }
}
