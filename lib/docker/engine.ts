// Which Docker engine bottle talks to, and whether it answers. The endpoint comes from an
// explicit env (DOCKER_HOST, else the current docker context, else the local socket), never
// from process.env behind the caller's back, so doctor and tests can point it anywhere.
import Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { sshAgent, sshConnectConfig } from './engine-ssh.js';
import { describeEngineError, engineDisagreement } from './unreachable.js';

// Where the engine is and how we found it (shown by doctor).
export interface DockerEndpoint {
  /** unix:///path, tcp://host:port, ssh://user@host, npipe://... */
  host: string;
  source: 'DOCKER_HOST' | 'context' | 'default';
  context?: string;
  /** TLS material for tcp endpoints (DOCKER_CERT_PATH or the context's tls dir). */
  tlsDir?: string;
  tlsVerify?: boolean;
}

// Resolves the endpoint the docker CLI would use: DOCKER_HOST, DOCKER_CONTEXT, config.json's
// currentContext, then $HOME/.docker/run/docker.sock (Docker Desktop) or /var/run/docker.sock.
export function resolveDockerEndpoint(env: NodeJS.ProcessEnv): DockerEndpoint {
  if (env.DOCKER_HOST) {
    return {
      host: env.DOCKER_HOST,
      source: 'DOCKER_HOST',
      ...(env.DOCKER_CERT_PATH && { tlsDir: env.DOCKER_CERT_PATH }),
      tlsVerify: env.DOCKER_TLS_VERIFY === '1',
    };
  }
  const home = env.HOME || homedir();
  const configDir = env.DOCKER_CONFIG || join(home, '.docker');
  const context = env.DOCKER_CONTEXT || currentContext(configDir);
  if (context && context !== 'default') {
    const id = createHash('sha256').update(context).digest('hex');
    const meta = readJson(join(configDir, 'contexts', 'meta', id, 'meta.json')) as
      | { Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } } }
      | undefined;
    const ep = meta?.Endpoints?.docker;
    if (ep?.Host) {
      const tlsDir = join(configDir, 'contexts', 'tls', id, 'docker');
      return {
        host: ep.Host,
        source: 'context',
        context,
        ...(existsSync(tlsDir) && { tlsDir }),
        tlsVerify: existsSync(tlsDir) && !ep.SkipTLSVerify,
      };
    }
  }
  const desktop = join(home, '.docker', 'run', 'docker.sock');
  return { host: `unix://${existsSync(desktop) ? desktop : '/var/run/docker.sock'}`, source: 'default' };
}

function currentContext(configDir: string): string | undefined {
  const config = readJson(join(configDir, 'config.json')) as { currentContext?: unknown } | undefined;
  return typeof config?.currentContext === 'string' ? config.currentContext : undefined;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

// A bottle's engine as launch records it (metadata backendData.engine): enough to reach it again
// from a shell whose DOCKER_HOST or context says otherwise.
export interface EngineRecord { host: string; tlsDir?: string; tlsVerify?: boolean; context?: string }

export function engineRecord(ep: DockerEndpoint): EngineRecord {
  return { host: ep.host, ...(ep.tlsDir ? { tlsDir: ep.tlsDir } : {}), ...(ep.tlsVerify ? { tlsVerify: true } : {}), ...(ep.context ? { context: ep.context } : {}) };
}

// Reads a record back (anything malformed: none, and the caller's own engine is used).
export function parseEngineRecord(v: unknown): EngineRecord | undefined {
  const r = v as Partial<EngineRecord> | undefined;
  if (!r || typeof r.host !== 'string' || r.host === '') return undefined;
  return { host: r.host, ...(typeof r.tlsDir === 'string' ? { tlsDir: r.tlsDir } : {}), ...(r.tlsVerify === true ? { tlsVerify: true } : {}), ...(typeof r.context === 'string' ? { context: r.context } : {}) };
}

// `env` pointed at a recorded engine: unchanged when it already selects that engine, else with
// DOCKER_HOST (and its TLS material) set and any context dropped.
export function envForEngine(env: NodeJS.ProcessEnv, record: EngineRecord | undefined): NodeJS.ProcessEnv {
  if (!record || resolveDockerEndpoint(env).host === record.host) return env;
  const { DOCKER_CONTEXT: _c, DOCKER_CERT_PATH: _p, DOCKER_TLS_VERIFY: _v, ...rest } = env;
  return { ...rest, DOCKER_HOST: record.host, ...(record.tlsDir ? { DOCKER_CERT_PATH: record.tlsDir } : {}), ...(record.tlsVerify ? { DOCKER_TLS_VERIFY: '1' } : {}) };
}

// The docker CLI's global flags that reach `ep` from any shell (a tmux pane has its own env):
// none for this machine's default socket.
export function dockerCliFlags(ep: DockerEndpoint): string[] {
  if (ep.source === 'default') return [];
  const tls = ep.tlsVerify && ep.tlsDir
    ? ['--tlsverify', '--tlscacert', join(ep.tlsDir, 'ca.pem'), '--tlscert', join(ep.tlsDir, 'cert.pem'), '--tlskey', join(ep.tlsDir, 'key.pem')]
    : [];
  return ['-H', ep.host, ...tls];
}

// dockerode options for an endpoint. Every connection key is set (undefined included) because
// docker-modem merges these over defaults it derives from process.env.DOCKER_HOST.
export function dockerodeOptions(ep: DockerEndpoint, env: NodeJS.ProcessEnv = {}): Docker.DockerOptions {
  const none = {
    socketPath: undefined, host: undefined, port: undefined, protocol: undefined,
    ca: undefined, cert: undefined, key: undefined, username: undefined,
  };
  if (ep.host.startsWith('unix://') || ep.host.startsWith('npipe://')) {
    const socketPath = ep.host.replace(/^(unix|npipe):\/\//, '');
    return { ...none, socketPath: socketPath || '/var/run/docker.sock' };
  }
  let url: URL;
  try {
    url = new URL(ep.host.includes('//') ? ep.host : `tcp://${ep.host}`);
  } catch {
    throw new Error(`docker host ${JSON.stringify(ep.host)} is not a URL (e.g. unix:///var/run/docker.sock, tcp://host:2375)`);
  }
  if (url.protocol === 'ssh:') {
    // Plain HTTP over our own agent: each connection is ssh + `docker system dial-stdio`.
    const { config, target } = sshConnectConfig(url, env);
    return { ...none, protocol: 'http', host: target.host, port: target.port, agent: sshAgent(config, target) } as Docker.DockerOptions;
  }
  const tls = ep.tlsVerify || url.port === '2376';
  const certs = ep.tlsDir && tls ? readCerts(ep.tlsDir) : {};
  return {
    ...none,
    protocol: tls ? 'https' : 'http',
    host: url.hostname,
    port: url.port || (tls ? 2376 : 2375),
    ...certs,
  };
}

function readCerts(dir: string): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const read = (name: string): Buffer | undefined => {
    const file = join(dir, name);
    return existsSync(file) ? readFileSync(file) : undefined;
  };
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}

// A dockerode client for the endpoint that `env` selects (the Docker backend builds on this).
export function connectDocker(env: NodeJS.ProcessEnv, extra: Docker.DockerOptions = {}): { docker: Docker; endpoint: DockerEndpoint } {
  const endpoint = resolveDockerEndpoint(env);
  return { docker: newDocker({ ...dockerodeOptions(endpoint, env), ...extra }), endpoint };
}

// docker-modem computes its defaults from process.env before merging ours over them, and
// throws a bare ENOENT when process.env's DOCKER_CERT_PATH lacks cert.pem or key.pem (a CA-only
// dir is valid for the docker CLI), though we override every key it sets: so it is built with
// process.env's DOCKER_HOST, the switch for that branch, hidden (synchronously).
function newDocker(opts: Docker.DockerOptions): Docker {
  const host = process.env.DOCKER_HOST;
  delete process.env.DOCKER_HOST;
  try {
    return new Docker(opts);
  } finally {
    if (host !== undefined) process.env.DOCKER_HOST = host;
  }
}

// Whether the engine at `endpoint` runs on another machine: a tcp:// or ssh:// endpoint whose
// engine names another host than this one (a unix socket or named pipe is this machine's).
// Returns the engine's host name then. A bottle runs on a remote engine like on a local one
// (nothing of this machine is mounted), except a git remote whose upstream is a local path.
export async function remoteEngineName(endpoint: Pick<DockerEndpoint, 'host'>, info: () => Promise<{ Name?: string }>, here = hostname()): Promise<string | undefined> {
  if (/^(unix|npipe):\/\//.test(endpoint.host)) return undefined;
  const name = (await info()).Name;
  return name && name !== here ? name : undefined;
}

// One line for a start on a remote engine of a plan with local-path git upstreams.
export function remoteEngineText(host: string, name: string, locals: Array<{ remote: string; path: string }>): string {
  const first = locals[0]!;
  const more = locals.length > 1 ? ` (and ${locals.length - 1} more)` : '';
  return `git remote ${first.remote}'s upstream ${first.path}${more} is a path on this machine, which the Docker engine at ${host} `
    + `(on ${name}) cannot reach: give the remote a URL git can reach from there (ssh://, https://, git://), or use an engine on this machine (unset DOCKER_HOST, or docker context use default)`;
}

// The probe's verdict; `host` says which engine was tried, for the fix hint; `remote`: the
// name of the machine a remote engine runs on.
export type EngineProbe =
  | { ok: true; host: string; version: string; apiVersion: string; os: string; arch?: string; remote?: string }
  | { ok: false; host: string; error: string; disagrees?: 'tls' | 'ssh' }; // disagrees: it is there, the transport fails

export interface ProbeEngineOptions {
  env: NodeJS.ProcessEnv;
  /** Default 3000 ms: an unreachable tcp host must not stall `bottle doctor`. */
  timeoutMs?: number;
}

// Asks the engine for its version (GET /version). Never throws: every failure is { ok: false }.
export async function probeEngine(opts: ProbeEngineOptions): Promise<EngineProbe> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  let host = opts.env.DOCKER_HOST ?? '(unresolved)';
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    // The socket timeout is only a backstop; the race below decides, with a clear message.
    const { docker, endpoint } = connectDocker(opts.env, { timeout: timeoutMs + 1000 });
    host = endpoint.host;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    // @types/dockerode lacks abortSignal on version(); dockerode passes it to docker-modem.
    const version = docker.version as (opts: { abortSignal: AbortSignal }) => Promise<unknown>;
    const v = (await Promise.race([version.call(docker, { abortSignal: abort.signal }), timedOut])) as {
      Version?: string; ApiVersion?: string; Os?: string; Arch?: string;
    };
    if (!v || typeof v.Version !== 'string') return { ok: false, host, error: 'the endpoint answered, but not like a Docker engine' };
    const remote = await Promise.race([remoteEngineName(endpoint, () => docker.info() as Promise<{ Name?: string }>), timedOut]).catch(() => undefined);
    return { ok: true, host, version: v.Version, apiVersion: v.ApiVersion ?? '', os: v.Os ?? '', ...(v.Arch && { arch: v.Arch }), ...(remote ? { remote } : {}) };
  } catch (e) {
    const disagrees = engineDisagreement(e);
    return { ok: false, host, error: describeEngineError(e), ...(disagrees ? { disagrees } : {}) };
  } finally {
    clearTimeout(timer);
  }
}

