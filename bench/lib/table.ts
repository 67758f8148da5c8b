// Plain-text output shared by the benches: aligned tables and human units.

// Numbers and pre-formatted strings (durations, ratios) both align as numbers.
export type Cell = string | number;

// Columns sized to their widest cell; numbers right-aligned, text left-aligned.
export function formatTable(title: string, columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => columns.map((_, i) => cellText(row[i])));
  const widths = columns.map((head, i) => Math.max(head.length, ...text.map((row) => row[i]!.length)));
  const numeric = columns.map((_, i) => {
    const cells = rows.map((row) => row[i]);
    return cells.some(isNumeric) && cells.every((c) => c === undefined || c === '' || c === '-' || isNumeric(c));
  });
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [title, line(columns), rule, ...text.map(line)].join('\n');
}

// formatTable to stdout, followed by a blank line so consecutive tables stay apart.
export function printTable(title: string, columns: readonly string[], rows: readonly (readonly Cell[])[]): void {
  process.stdout.write(`${formatTable(title, columns, rows)}\n\n`);
}

// How many times `a` is `b` (speedups, slowdowns): ratio(40, 2) → "20.0x".
export function ratio(a: number, b: number): string {
  if (b === 0) return a === 0 ? '1.00x' : 'infx';
  const r = a / b;
  return `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}

// A duration in ms, in the unit that keeps it readable: 0.00042 → "420 ns", 12.3 → "12.3 ms".
export function formatMs(ms: number): string {
  if (ms < 0) return `-${formatMs(-ms)}`;
  if (ms < 0.001) return `${(ms * 1e6).toFixed(0)} ns`;
  if (ms < 1) return `${(ms * 1e3).toPrecision(3)} µs`;
  if (ms < 1000) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1000).toPrecision(3)} s`;
}

function cellText(cell: Cell | undefined): string {
  if (cell === undefined) return '';
  return typeof cell === 'number' ? String(cell) : cell;
}

// Formatted durations ("12.3 ms") and ratios ("4.2x") align like numbers.
function isNumeric(cell: Cell | undefined): boolean {
  return typeof cell === 'number' || (typeof cell === 'string' && /^-?[\d.]+ ?[a-zµ]*$/.test(cell));
}
