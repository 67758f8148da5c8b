// The smolvm backend's bundle sits on a per-bottle bridge at a PINNED IP, so the VM's TSI
// allowlist (`--allow-cidr <bundleIp>/32`) can be computed before anything starts. This picks
// that bridge's subnet: stable per slug, and never overlapping a network the engine (or the
// host) already has.
import { createHash } from 'node:crypto';
import { networkInterfaces } from 'node:os';

// An IPv4 range as inclusive unsigned 32-bit bounds.
interface Range { start: number; end: number }

// The bridge for one bottle: gateway at .1, the bundle pinned at .2.
export interface BundleSubnet { subnet: string; gateway: string; bundleIp: string }

export interface SubnetPoolOptions {
  /** Private IPv4 pool to carve subnets from (default 10.213.0.0/16). */
  pool?: string;
  /** Prefix length of each bottle subnet (default 24; at most 30 so .1 and .2 fit). */
  prefix?: number;
}

export const DEFAULT_SUBNET_POOL = '10.213.0.0/16';

function parseIp(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

function formatIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

// `a.b.c.d/n` → its range (host bits ignored, as the kernel does); undefined for IPv6 or junk.
export function parseCidr(cidr: string): Range | undefined {
  const [ip, bits, extra] = cidr.trim().split('/');
  if (extra !== undefined || ip === undefined) return undefined;
  const addr = parseIp(ip);
  const len = bits === undefined ? 32 : /^\d{1,2}$/.test(bits) ? Number(bits) : NaN;
  if (addr === undefined || !(len >= 0 && len <= 32)) return undefined;
  const size = 2 ** (32 - len);
  const start = addr - (addr % size);
  return { start, end: start + size - 1 };
}

// Whether two CIDRs share any address (a /16 overlaps every /24 inside it).
export function cidrsOverlap(a: string, b: string): boolean {
  const ra = parseCidr(a), rb = parseCidr(b);
  return !!ra && !!rb && ra.start <= rb.end && rb.start <= ra.end;
}

// Picks the slug's subnet: hash → a slot in the pool, then the next slot (wrapping) that
// overlaps none of `existing`. Pure; throws when every slot is taken.
export function chooseSubnet(slug: string, existing: readonly string[], opts: SubnetPoolOptions = {}): BundleSubnet {
  const poolCidr = opts.pool ?? DEFAULT_SUBNET_POOL;
  const prefix = opts.prefix ?? 24;
  const pool = parseCidr(poolCidr);
  const poolLen = Number(poolCidr.split('/')[1]);
  if (!pool || !poolCidr.includes('/')) throw new Error(`subnet pool ${JSON.stringify(poolCidr)} is not an IPv4 CIDR`);
  if (!Number.isInteger(prefix) || prefix < poolLen || prefix > 30) {
    throw new Error(`subnet prefix /${prefix} must be between the pool's /${poolLen} and /30`);
  }
  const taken = existing.map(parseCidr).filter((r): r is Range => r !== undefined);
  const size = 2 ** (32 - prefix);
  const slots = 2 ** (prefix - poolLen);
  const first = createHash('sha256').update(slug).digest().readUInt32BE(0) % slots;
  for (let i = 0; i < slots; i++) {
    const start = pool.start + ((first + i) % slots) * size;
    const end = start + size - 1;
    if (taken.some((r) => r.start <= end && start <= r.end)) continue;
    return { subnet: `${formatIp(start)}/${prefix}`, gateway: formatIp(start + 1), bundleIp: formatIp(start + 2) };
  }
  throw new Error(
    `no free /${prefix} subnet left in ${poolCidr} (all ${slots} overlap existing networks); remove unused networks (\`bottle cleanup\`, \`docker network prune\`) or configure another pool`,
  );
}

// The slice of dockerode we use (structural, so tests can pass a stub).
export interface NetworkLister {
  listNetworks(): Promise<Array<{ IPAM?: { Config?: Array<{ Subnet?: string }> | null } | null }>>;
}

// Every subnet the engine's networks hold (IPAM Config); IPv6 entries are kept and ignored later.
export async function engineSubnets(docker: NetworkLister): Promise<string[]> {
  const nets = await docker.listNetworks();
  return nets.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s));
}

// The host's own IPv4 interface subnets (VPNs, LANs): a bridge over them would shadow routes.
export function hostSubnets(ifaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): string[] {
  return Object.values(ifaces)
    .flatMap((list) => list ?? [])
    .filter((i) => i.family === 'IPv4' && !i.internal && i.cidr)
    .map((i) => i.cidr as string);
}
