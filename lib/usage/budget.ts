// A bottle's spend limit (issue 16 item 4): a cap in USD and/or tokens over the bottle's life,
// with a warning at a fraction of it. The gateway refuses model requests once the usage it
// reads from the events file reaches a cap; the dashboard and `bottle budget` judge the same
// usage against the same budget with budgetState, so they agree. Pure.
import type { UsageTotals } from './aggregate.js';
import { allTokens } from './aggregate.js';
import { formatTokens } from '../format.js';
import { PRICE_CLASSES, type PriceTable } from './prices.js';

export interface Budget {
  /** USD over the bottle's life (priced requests only: a model without a price costs nothing here). */
  usd?: number;
  /** Tokens of every class (input, output, cache read and write) over the bottle's life. */
  tokens?: number;
  /** The warning's fraction of a cap, 0 < warnAt <= 1. */
  warnAt: number;
}

export const DEFAULT_WARN_AT = 0.8;
export const MAX_BUDGET_USD = 1_000_000;
export const MAX_BUDGET_TOKENS = 1e12;

export type BudgetLevel = 'ok' | 'warn' | 'paused';

export interface BudgetState {
  level: BudgetLevel;
  /** The larger of usd/cap and tokens/cap (0 without a cap). */
  fraction: number;
  /** Which cap the level comes from. */
  by?: 'usd' | 'tokens';
}

// Whether the budget caps anything (a budget of only warn_at is no budget).
export function hasCap(b: Budget | undefined): b is Budget {
  return b !== undefined && (b.usd !== undefined || b.tokens !== undefined);
}

// Where `totals` stand against `b`.
export function budgetState(b: Budget | undefined, totals: Pick<UsageTotals, 'usd' | 'input' | 'output' | 'cacheRead' | 'cacheWrite'>): BudgetState {
  if (!hasCap(b)) return { level: 'ok', fraction: 0 };
  const parts: Array<{ by: 'usd' | 'tokens'; f: number }> = [];
  // A cap of 0 is reached before any use: fraction 1, not Infinity (which JSON prints as null).
  if (b.usd !== undefined) parts.push({ by: 'usd', f: b.usd === 0 ? 1 : (totals.usd ?? 0) / b.usd });
  if (b.tokens !== undefined) parts.push({ by: 'tokens', f: b.tokens === 0 ? 1 : allTokens(totals) / b.tokens });
  const top = parts.reduce((a, p) => (p.f > a.f ? p : a));
  const level: BudgetLevel = top.f >= 1 ? 'paused' : top.f >= b.warnAt ? 'warn' : 'ok';
  return { level, fraction: top.f, ...(level === 'ok' ? {} : { by: top.by }) };
}

// `$10.00` / `2.0M tokens` / both: the caps as a person reads them.
export function budgetText(b: Budget): string {
  const parts: string[] = [];
  if (b.usd !== undefined) parts.push(`$${b.usd.toFixed(2)}`);
  if (b.tokens !== undefined) parts.push(`${formatTokens(b.tokens)} tokens`);
  return parts.join(' or ');
}

// The budget file in a bottle's policy directory: written by start and `bottle budget`, read by
// the gateway on every reload (a change in the directory, or SIGHUP) and by the dashboard.
export const BUDGET_FILE = 'budget.json';

// What the file holds: the budget, and the price overrides the gateway prices usage with.
export interface BudgetFileContent extends Budget {
  prices?: PriceTable;
}

// The file's text for a budget (none: `{}`, which caps nothing).
export function budgetFileText(b: Budget | undefined, prices: PriceTable | undefined): string {
  const content = { ...(b ?? {}), ...(prices && Object.keys(prices).length > 0 ? { prices } : {}) };
  return `${JSON.stringify(content, null, 2)}\n`;
}

// Parses the file; throws an Error saying what is wrong (the gateway keeps its last budget).
export function parseBudgetFile(text: string): BudgetFileContent {
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
  const o = v as Record<string, unknown>;
  const out: BudgetFileContent = { warnAt: DEFAULT_WARN_AT };
  const num = (k: string, max: number): number | undefined => {
    if (o[k] === undefined || o[k] === null) return undefined;
    const n = o[k];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > max) throw new Error(`${k}: expected a number from 0 to ${max}`);
    return n;
  };
  const usd = num('usd', MAX_BUDGET_USD);
  const tokens = num('tokens', MAX_BUDGET_TOKENS);
  const warnAt = num('warnAt', 1);
  if (usd !== undefined) out.usd = usd;
  if (tokens !== undefined) out.tokens = tokens;
  if (warnAt !== undefined) {
    if (warnAt === 0) throw new Error('warnAt: expected a fraction above 0');
    out.warnAt = warnAt;
  }
  if (o.prices !== undefined) {
    if (typeof o.prices !== 'object' || o.prices === null || Array.isArray(o.prices)) throw new Error('prices: expected an object');
    const prices: PriceTable = {};
    for (const [model, rate] of Object.entries(o.prices as Record<string, unknown>)) {
      const r = rate as Record<string, unknown> | null;
      if (typeof r !== 'object' || r === null || !PRICE_CLASSES.every((c) => typeof r[c] === 'number' && Number.isFinite(r[c]) && (r[c] as number) >= 0)) {
        throw new Error(`prices.${model}: expected USD per million tokens for ${PRICE_CLASSES.join(', ')}`);
      }
      prices[model] = { input: r.input as number, output: r.output as number, cacheRead: r.cacheRead as number, cacheWrite: r.cacheWrite as number };
    }
    out.prices = prices;
  }
  return out;
}
