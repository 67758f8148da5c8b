// Helpers for bench/*.bench.ts: `import { timeIt, summarize, printTable } from './lib/index.js'`.
export { percentile, summarize, timeIt } from './timing.js';
export type { Summary, TimeItOptions } from './timing.js';
export { formatMs, formatTable, printTable, ratio } from './table.js';
export type { Cell } from './table.js';
