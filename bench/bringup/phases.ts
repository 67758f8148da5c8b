// Where `bottle start` spends its time: its progress lines (stderr), timestamped on arrival,
// cut into phases at known marks. Pure: the cutting needs no bottle.

// One progress line and when it arrived, in ms after the process was spawned.
export interface TimedLine { ms: number; line: string }

// Phase boundaries, in bring-up order: a phase runs from its mark to the next mark that appears.
export const MARKS: ReadonlyArray<{ phase: string; mark: RegExp }> = [
  { phase: 'CLI start, manifest, plan', mark: /^$/ }, // from spawn
  { phase: 'state dir, policy, CA', mark: /^bottle \S+: / },
  { phase: 'internal network (beside the egress one, the image and engine checks)', mark: /^creating network / },
  { phase: 'both containers created', mark: /^creating sidecars container / },
  { phase: 'bundle seeded | agent starts, its files go in', mark: /^starting agent$/ },
  { phase: 'bundle starts, joins egress, gets ready | agent route removed', mark: /^starting sidecars$/ },
  { phase: 'state update, exit', mark: /^bottle \S+ is up / },
];

// Duration of each phase (ms) for one run; `endMs` is when the process exited.
export function phases(lines: readonly TimedLine[], endMs: number): Map<string, number> {
  const starts: Array<{ phase: string; ms: number }> = [{ phase: MARKS[0]!.phase, ms: 0 }];
  for (const { phase, mark } of MARKS.slice(1)) {
    const hit = lines.find((l) => mark.test(l.line));
    if (hit) starts.push({ phase, ms: hit.ms });
  }
  starts.sort((a, b) => a.ms - b.ms);
  const out = new Map<string, number>();
  starts.forEach((s, i) => out.set(s.phase, (starts[i + 1]?.ms ?? endMs) - s.ms));
  return out;
}

// Median of a sample (the mean of the middle two for an even count).
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
