// The live policy: loaded from DIR/policy.yaml, swapped whole on reload (SIGHUP or a change in
// the directory). A request takes one snapshot when it starts and keeps it, so in-flight
// requests finish under the policy they began with; an invalid file keeps the old policy.
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import {
  loadPolicy, policyHash, prepareCanaries, reload, renderRouteHeaders, routeFor, routeSecretValues,
  type Canaries, type Policy,
} from '../../lib/policy/index.js';
import { UserError } from '../../lib/errors.js';
import { BUDGET_FILE } from '../../lib/usage/budget.js';

// The policy file inside --policy-dir (the host replaces it by write-temp + rename).
export const POLICY_FILE = 'policy.yaml';

type Env = Readonly<Record<string, string | undefined>>;

// Route headers for one host: rendered values, or why they cannot be (an unset env var).
export type RouteHeaders = { headers: Record<string, string> } | { error: string };

// One immutable policy generation with what is derived from it (canaries, rendered routes).
export class Snapshot {
  readonly hash: string;
  readonly canaries: Canaries;
  private readonly rendered = new Map<string, RouteHeaders | undefined>();

  constructor(readonly policy: Policy, private readonly env: Env) {
    this.hash = policyHash(policy);
    this.canaries = prepareCanaries(routeSecretValues(policy, env));
  }

  // The headers to inject for `host` (undefined: not a route host). Rendered once per host.
  routeHeaders(host: string): RouteHeaders | undefined {
    if (this.rendered.has(host)) return this.rendered.get(host);
    const route = routeFor(this.policy, host);
    let out: RouteHeaders | undefined;
    if (route) {
      try {
        out = { headers: renderRouteHeaders(route, this.env) };
      } catch (e) {
        out = { error: (e as Error).message };
      }
    }
    this.rendered.set(host, out);
    return out;
  }
}

// What a reload did; `error` means the file was rejected and the old policy stays.
export interface ReloadOutcome {
  changed: boolean;
  hash: string;
  error?: string;
}

// Holds the current Snapshot and re-reads the file on demand.
export class PolicyStore {
  private snap: Snapshot;
  readonly file: string;

  // Throws a UserError when the initial file is missing or invalid: nothing to fall back on.
  constructor(readonly dir: string, private readonly env: Env) {
    this.file = join(dir, POLICY_FILE);
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      throw new UserError(`gateway: cannot read ${this.file}: ${(e as Error).message}; write a policy there (format: lib/policy/load.ts)`);
    }
    this.snap = new Snapshot(loadPolicy(text, this.file), env);
  }

  get current(): Snapshot {
    return this.snap;
  }

  // Re-reads the file; on any error the current snapshot stays in force.
  reload(): ReloadOutcome {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      return { changed: false, hash: this.snap.hash, error: `cannot read ${this.file}: ${(e as Error).message}` };
    }
    const r = reload(this.snap.policy, text, this.file);
    if (r.error) return { changed: false, hash: this.snap.hash, error: r.error.message };
    // A rebuilt snapshot also picks up env changes for canaries (cheap; policies are small).
    this.snap = new Snapshot(r.policy, this.env);
    return { changed: r.changed, hash: this.snap.hash };
  }
}

// Watches the policy DIRECTORY (a rename replaces the file's inode, which a watch on the
// file itself would miss) for policy.yaml and budget.json and calls `onChange` once per burst of events.
export function watchPolicyDir(dir: string, onChange: () => void, onError: (message: string) => void, debounceMs = 50): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (name !== null && name !== POLICY_FILE && name !== BUDGET_FILE) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    });
    watcher.on('error', (e) => onError(`watching ${dir} failed (${e.message}); reload with SIGHUP`));
  } catch (e) {
    onError(`cannot watch ${dir} (${(e as Error).message}); reload with SIGHUP`);
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
