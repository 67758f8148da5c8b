// Recognises "the Docker engine is not there" anywhere in an error's cause chain and says it
// in one line with the fix. No dockerode import: the CLI's error report loads this on every
// failure.
const CONNECT_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ENOTFOUND']);

type ConnectError = NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string; statusCode?: number; reason?: string };

// Why the engine could not be reached, for one connection error.
export function describeEngineError(e: unknown): string {
  const err = e as ConnectError;
  switch (err.code) {
    case 'ENOENT': return `no socket at ${err.address ?? 'the given path'} (is dockerd running?)`;
    case 'ECONNREFUSED': return 'connection refused (is dockerd running?)';
    case 'EACCES': return `permission denied on ${err.address ?? 'the socket'} (is your user in the docker group?)`;
    case 'ENOTFOUND': return `unknown host ${err.hostname ?? ''}`.trim();
    default:
      if (err.statusCode) return `engine answered HTTP ${err.statusCode}${err.reason ? ` (${err.reason})` : ''}`;
      return (err.message || String(e)).split('\n')[0]!;
  }
}

// The connection error behind `e` (itself or a cause), when a socket connect to the engine failed.
export function engineConnectError(e: unknown): ConnectError | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 8; cur = (cur as { cause?: unknown }).cause, depth++) {
    const err = cur as ConnectError;
    if (typeof err.code === 'string' && CONNECT_CODES.has(err.code) && (err.syscall === 'connect' || err.syscall === 'getaddrinfo')) return err;
  }
  return undefined;
}

// One user-facing line for an unreachable engine, or undefined when `e` is something else.
export function engineUnreachableMessage(e: unknown, env: NodeJS.ProcessEnv): string | undefined {
  const err = engineConnectError(e);
  if (!err) return undefined;
  const host = env.DOCKER_HOST || (err.address?.startsWith('/') ? `unix://${err.address}` : err.address ? `${err.address}${err.port ? `:${err.port}` : ''}` : 'the default socket');
  return `no Docker engine at ${host}: ${describeEngineError(err)}; start dockerd, or point DOCKER_HOST at a running engine (bottle doctor checks it)`;
}
