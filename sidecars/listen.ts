// `--listen HOST:PORT` for every daemon of the bundle (IPv6 as [::1]:PORT; port 0 = any free).
import { UserError } from '../lib/errors.js';

export function parseListenAddress(value: string, example = '0.0.0.0:8888'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new UserError(`--listen ${value}: expected HOST:PORT, e.g. ${example}`);
  return { host: (m[1] ?? m[2])!, port };
}
