// Which base image the bottle images build FROM: --base, else the official node image if it is
// local or pullable, else the locally bootstrapped one (built on demand). The decision is
// separate from the engine so tests drive it with fake probes.
import type Docker from 'dockerode';
import { clip } from '../format.js';
import { readJsonLines } from './progress.js';

// The image the Dockerfiles default to.
export const OFFICIAL_BASE = 'node:22-bookworm-slim';
// What the bootstrap (bootstrap.ts) builds without Docker Hub (debootstrap + Node from npm).
export const BOOTSTRAP_BASE = 'bottle-base:node22-bookworm';
// A pull that takes longer is treated as "no registry access" (the brief caps it at 20 s).
export const PULL_TIMEOUT_MS = 15_000;

// How the base was found; `bootstrap-built` means this run built it (slow path).
export type BaseSource = 'flag' | 'local' | 'pulled' | 'bootstrap-local' | 'bootstrap-built';

// The base chosen and the story of how, one line per decision (printed by the verb).
export interface BaseChoice { image: string; source: BaseSource; notes: string[] }

// The engine-side facts the decision needs.
export interface BaseProbes {
  exists(image: string): Promise<boolean>;
  pull(image: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; why: string }>;
  /** Builds BOOTSTRAP_BASE (bootstrap.ts); throws if that fails. */
  bootstrap(): Promise<void>;
}

// How the base may be found: `pull: false` never asks a registry (air-gapped hosts, CI);
// `previous`: the base the current images were built on; `onNote` hears each decision as it is
// made (a bootstrap takes a minute: say why first).
export interface ChooseOptions { pull?: boolean; pullTimeoutMs?: number; previous?: string; onNote?: (line: string) => void }

// Walks the fallbacks in order; only the last resort builds anything.
export async function chooseBase(flag: string | undefined, probes: BaseProbes, o: ChooseOptions = {}): Promise<BaseChoice> {
  const notes: string[] = [];
  const say = (line: string): void => { notes.push(line); o.onNote?.(line); };
  if (flag) {
    say(`base: ${flag} (from --base)`);
    return { image: flag, source: 'flag', notes };
  }
  if (await probes.exists(OFFICIAL_BASE)) {
    say(`base: ${OFFICIAL_BASE} (present locally)`);
    return { image: OFFICIAL_BASE, source: 'local', notes };
  }
  // Images built on the bootstrapped base while it is still here: a pull would most likely fail
  // as it did then, and an unchanged rebuild must not wait for it.
  if (o.previous === BOOTSTRAP_BASE && (await probes.exists(BOOTSTRAP_BASE))) {
    say(`base: ${BOOTSTRAP_BASE} (present locally; the current images use it, so no pull of ${OFFICIAL_BASE} is tried; --no-cache tries one)`);
    return { image: BOOTSTRAP_BASE, source: 'bootstrap-local', notes };
  }
  if (o.pull === false) {
    say(`${OFFICIAL_BASE} is not local and --no-pull is set; using ${BOOTSTRAP_BASE}`);
  } else {
    const pulled = await probes.pull(OFFICIAL_BASE, o.pullTimeoutMs ?? PULL_TIMEOUT_MS);
    if (pulled.ok) {
      say(`base: ${OFFICIAL_BASE} (pulled)`);
      return { image: OFFICIAL_BASE, source: 'pulled', notes };
    }
    say(`${OFFICIAL_BASE} is not local and the pull failed (${pulled.why}); falling back to ${BOOTSTRAP_BASE}`);
  }
  if (await probes.exists(BOOTSTRAP_BASE)) {
    say(`base: ${BOOTSTRAP_BASE} (present locally)`);
    return { image: BOOTSTRAP_BASE, source: 'bootstrap-local', notes };
  }
  say(`${BOOTSTRAP_BASE} is missing; bootstrapping it (debootstrap + Node from the npm registry, about a minute)`);
  await probes.bootstrap();
  say(`base: ${BOOTSTRAP_BASE} (just built)`);
  return { image: BOOTSTRAP_BASE, source: 'bootstrap-built', notes };
}

// Real probes against the engine; `bootstrap` is supplied by the caller (it needs the runner).
export function engineBaseProbes(docker: Docker, bootstrap: () => Promise<void>): BaseProbes {
  return {
    exists: (image) => imageId(docker, image).then((id) => id !== undefined),
    pull: (image, timeoutMs) => pullWithTimeout(docker, image, timeoutMs),
    bootstrap,
  };
}

// The image's id, or undefined when the engine does not have it (a probe: never throws).
export async function imageId(docker: Docker, image: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(image).inspect()).Id;
  } catch {
    return undefined;
  }
}

// Pulls, giving up after timeoutMs; an unreachable registry usually fails fast (DNS) instead.
export async function pullWithTimeout(docker: Docker, image: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; why: string }> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<{ ok: false; why: string }>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve({ ok: false, why: `no answer within ${Math.round(timeoutMs / 1000)} s` });
    }, timeoutMs);
  });
  const attempt = (async (): Promise<{ ok: true } | { ok: false; why: string }> => {
    try {
      const stream = (await docker.pull(image, { abortSignal: abort.signal })) as NodeJS.ReadableStream;
      let error: string | undefined;
      await readJsonLines(stream, (m) => { if (m.error) error ??= m.error; });
      return error ? { ok: false, why: pullErrorGist(error) } : { ok: true };
    } catch (e) {
      return { ok: false, why: pullErrorGist((e as { json?: { message?: string } }).json?.message ?? (e as Error).message) };
    }
  })();
  try {
    return await Promise.race([attempt, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

// A daemon's pull error in a few words for one line: `Get "https://registry-1.docker.io/v2/":
// dial tcp: lookup registry-1.docker.io on 10.0.0.53:53: no such host` becomes
// `registry-1.docker.io: no such host`; anything else its first line, at most 100 characters.
export function pullErrorGist(message: string): string {
  const line = message.trim().split('\n')[0]!.replace(/^Error response from daemon: /, '');
  const http = /^[A-Za-z]+ "https?:\/\/([^/"]+)[^"]*": (.*)$/.exec(line);
  if (http) return `${http[1]}: ${http[2]!.split(': ').at(-1)}`;
  return clip(line, 100);
}
