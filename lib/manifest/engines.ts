// Validation of `engines:` (named Docker engines) and the `engine:` keys that pick one
// (defaults and per agent). An entry is { host: URL } (with optional tls_verify, cert_path) or
// { context: NAME }; `local` is reserved: the engine this shell selects.
import type { EngineSpec } from './types.js';
import type { Val, Walker } from './walk.js';

export const ENGINE_NAME = /^[a-z][a-z0-9-]*$/;
export const LOCAL_ENGINE = 'local';
const ENGINE_KEYS = ['host', 'context', 'tls_verify', 'cert_path'] as const;
const ENGINE_URL = /^(tcp|ssh|unix|npipe):\/\/\S+$/;
const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

export function readEngines(w: Walker, v: Val): Record<string, EngineSpec> {
  const out: Record<string, EngineSpec> = {};
  for (const e of w.entries(v) ?? []) {
    if (e.key === LOCAL_ENGINE) {
      w.fail(e.val, 'local is reserved (the engine this shell selects: DOCKER_HOST, the docker context or the local socket); give this engine another name', e.keyNode);
      continue;
    }
    if (!ENGINE_NAME.test(e.key)) {
      w.fail(e.val, 'expected an engine name: a lowercase letter, then lowercase letters, digits or -', e.keyNode);
      continue;
    }
    const spec = readEngine(w, e.val);
    if (spec) out[e.key] = spec;
  }
  return out;
}

function readEngine(w: Walker, v: Val): EngineSpec | undefined {
  const f = w.fields(v, ENGINE_KEYS);
  if (!f) return undefined;
  if (!f.host && !f.context) {
    w.fail(v, 'expected host: URL (tcp://host:2376, ssh://user@host) or context: NAME (a docker context)');
    return undefined;
  }
  if (f.host && f.context) {
    w.fail(f.context, 'host and context exclude each other; keep one');
    return undefined;
  }
  if (f.context) {
    for (const k of ['tls_verify', 'cert_path'] as const) {
      const val = f[k];
      if (val) w.fail(val, `${k} goes with host: only (a docker context brings its own TLS settings); remove it`, val.keyNode);
    }
    const name = w.str(f.context, 'a docker context name');
    if (name === undefined) return undefined;
    if (!CONTEXT_NAME.test(name)) {
      w.fail(f.context, 'expected a docker context name (letters, digits, _ . + -), as docker context ls lists it');
      return undefined;
    }
    return { context: name };
  }
  const host = w.str(f.host!, 'an engine URL');
  if (host !== undefined && !ENGINE_URL.test(host)) {
    w.fail(f.host!, `expected an engine URL (tcp://host:2376, ssh://user@host, unix:///path), got ${JSON.stringify(host)}`);
    return undefined;
  }
  if (host !== undefined && !host.startsWith('tcp://')) {
    for (const k of ['tls_verify', 'cert_path'] as const) {
      const val = f[k];
      if (val) w.fail(val, `${k} applies to a tcp:// host only (ssh:// and sockets use no TLS); remove it`, val.keyNode);
    }
  }
  const tlsVerify = f.tls_verify ? w.bool(f.tls_verify) : undefined;
  const certPath = f.cert_path ? w.str(f.cert_path, 'a directory with ca.pem, cert.pem and key.pem') : undefined;
  if (host === undefined) return undefined;
  return { host, ...(tlsVerify !== undefined ? { tlsVerify } : {}), ...(certPath !== undefined ? { certPath } : {}) };
}

// `engine: NAME` (defaults or an agent); whether it names an entry is checked once all are read.
export function readEngineRef(w: Walker, v: Val): string | undefined {
  return w.str(v, 'an engine name');
}

// The names an `engine:` may use, for messages: the manifest's, then local.
export function engineNames(engines: Record<string, EngineSpec> | undefined): string[] {
  return [...Object.keys(engines ?? {}), LOCAL_ENGINE];
}

export function checkEngineRef(w: Walker, v: Val, name: string, engines: Record<string, EngineSpec> | undefined): void {
  if (name === LOCAL_ENGINE || Object.hasOwn(engines ?? {}, name)) return;
  const defined = Object.keys(engines ?? {});
  w.fail(v, `unknown engine ${name}; ${defined.length ? `engines: defines ${defined.join(', ')}` : 'the manifest defines no engines:'}; use one of those or local (the engine this shell selects), or add ${name} under engines:`);
}
