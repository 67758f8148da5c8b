// Recognises "the Docker engine is not there" (or will not talk TLS with this client) anywhere
// in an error's cause chain and says it in one line with the fix. No dockerode import: the
// CLI's error report loads this on every failure.
const CONNECT_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ENOTFOUND']);

type ConnectError = NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string; statusCode?: number; reason?: string };

// Why an ssh:// engine could not be reached (host key, keys, sshd, the remote docker CLI), worded
// whole by lib/docker/engine.ts, which knows the host and the keys it offered.
export class EngineSshError extends Error {
  override name = 'EngineSshError';
  readonly code = 'ERR_BOTTLE_SSH';
}

// node's codes for a server certificate this client does not trust (no or another CA).
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
]);
// TLS alerts with which a --tlsverify engine refuses a client certificate (or its absence).
const REFUSED_CLIENT_CODES = new Set([
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
]);
// The CLI process speaks TLS to nothing but a tcp engine, so a TLS error here is the engine's.
const isTlsError = (code: string): boolean =>
  code.startsWith('ERR_SSL_') || UNTRUSTED_CODES.has(code) || code.startsWith('CERT_') || code === 'ERR_TLS_CERT_ALTNAME_INVALID';

// The TLS half of describeEngineError: what went wrong between this client and a tcp engine.
function describeTlsError(err: ConnectError): string {
  const code = err.code ?? '';
  // OpenSSL's message is a "80BC…:error:0A000412:SSL routines:…" line; its reason is the words.
  const why = err.reason ?? (err.message || code).split('\n')[0]!;
  if (REFUSED_CLIENT_CODES.has(code)) {
    return `TLS: the engine refused this client's certificate (${why}); DOCKER_CERT_PATH needs the cert.pem and key.pem its CA signed, with DOCKER_TLS_VERIFY=1`;
  }
  if (UNTRUSTED_CODES.has(code)) {
    return `TLS: the engine's certificate is not trusted (${why}); put its CA in DOCKER_CERT_PATH/ca.pem and set DOCKER_TLS_VERIFY=1`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: the engine's certificate is not for this address (${why}); reach it by a name its certificate lists`;
  if (code.startsWith('CERT_')) return `TLS: the engine's certificate is not valid (${why})`;
  return `TLS handshake failed (${why}); a tcp engine on port 2376 is spoken to with TLS, on any other port only with DOCKER_TLS_VERIFY=1`;
}

// Why the engine could not be reached, for one connection (or TLS) error.
export function describeEngineError(e: unknown): string {
  const err = e as ConnectError;
  if (typeof err.code === 'string' && isTlsError(err.code)) return describeTlsError(err);
  if (e instanceof EngineSshError) return e.message;
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

// The connection error behind `e` (itself or a cause), when a socket connect to the engine
// failed, or the TLS handshake on it.
export function engineConnectError(e: unknown): ConnectError | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 8; cur = (cur as { cause?: unknown }).cause, depth++) {
    const err = cur as ConnectError;
    if (typeof err.code !== 'string') continue;
    if (CONNECT_CODES.has(err.code) && (err.syscall === 'connect' || err.syscall === 'getaddrinfo')) return err;
    if (isTlsError(err.code) || cur instanceof EngineSshError) return err;
  }
  return undefined;
}

// 'tls' or 'ssh' when `e` says the engine is there but this client and it disagree on how to
// talk (certificates, host keys, keys): starting an engine is then not the fix.
export function engineDisagreement(e: unknown): 'tls' | 'ssh' | undefined {
  const err = engineConnectError(e);
  if (err instanceof EngineSshError) return 'ssh';
  return err && isTlsError(err.code!) ? 'tls' : undefined;
}

// One user-facing line for an unreachable engine, or undefined when `e` is something else.
export function engineUnreachableMessage(e: unknown, env: NodeJS.ProcessEnv): string | undefined {
  const err = engineConnectError(e);
  if (!err) return undefined;
  // The engine is there, but this client and it disagree on TLS or ssh: nothing to start.
  if (engineDisagreement(err)) return `cannot talk to the Docker engine at ${env.DOCKER_HOST || 'the endpoint this shell selects'}: ${describeEngineError(err)}`;
  const host = env.DOCKER_HOST || (err.address?.startsWith('/') ? `unix://${err.address}` : err.address ? `${err.address}${err.port ? `:${err.port}` : ''}` : 'the default socket');
  return `no Docker engine at ${host}: ${describeEngineError(err)}; start dockerd, or point DOCKER_HOST at a running engine (bottle doctor checks it)`;
}
