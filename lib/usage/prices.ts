// What a model's tokens cost: a built-in table of list prices per model family and token class,
// overridable per bottle from the manifest (`defaults.prices`, an agent's `prices`), and the
// matching that picks a rate for a model name. Pure.

// USD per million tokens, one rate per token class the gateway's usage events count.
export interface PriceRate {
  input: number;
  output: number;
  /** Cache-read input tokens. */
  cacheRead: number;
  /** Cache-creation (cache-write) input tokens. */
  cacheWrite: number;
}

// Model name or name prefix -> rate (the manifest's `prices` and the plan's `prices`).
export type PriceTable = Record<string, PriceRate>;

export const PRICE_CLASSES = ['input', 'output', 'cacheRead', 'cacheWrite'] as const;

// The date the table below was last checked against Anthropic's published pricing.
export const PRICES_AS_OF = '2025-11-24';

// Anthropic's public list prices (https://www.anthropic.com/pricing, the API pricing page of
// docs.anthropic.com), USD per million tokens, as of PRICES_AS_OF. Prices change and new models
// appear: these may be stale by the time you read them. Cache writes are the 5-minute cache rate;
// long-context surcharges, batch discounts and negotiated rates are not modelled. A manifest's
// `prices` (defaults or per agent) overrides this table for any model or prefix.
// Keys are model names or prefixes: the longest prefix of a model name that is a key decides.
export const DEFAULT_PRICES: Readonly<PriceTable> = Object.freeze({
  'claude-opus-4-5': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-1': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-opus-4': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-sonnet-4': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-haiku-4-5': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  'claude-3-opus': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-3-7-sonnet': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-3-5-sonnet': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1 },
  'claude-3-haiku': { input: 0.25, output: 1.25, cacheRead: 0.03, cacheWrite: 0.3 },
});

// The rate in `table` for `model`: its exact name, else the longest key that prefixes it.
export function matchPrice(model: string, table: Readonly<PriceTable>): { key: string; rate: PriceRate } | undefined {
  if (Object.hasOwn(table, model)) return { key: model, rate: table[model]! };
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    if (model.startsWith(key) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : { key: best, rate: table[best]! };
}

// A bottle's rate for `model`: its own overrides (the plan's prices) first, then the built-in
// table; undefined is an unknown price (tokens still counted, cost unknown).
export function priceFor(model: string, overrides: Readonly<PriceTable> = {}, builtin: Readonly<PriceTable> = DEFAULT_PRICES): PriceRate | undefined {
  return (matchPrice(model, overrides) ?? matchPrice(model, builtin))?.rate;
}

export interface TokenCounts { input: number; output: number; cacheRead: number; cacheWrite: number }

// USD for one set of token counts at `rate`.
export function costUsd(tokens: TokenCounts, rate: PriceRate): number {
  return (tokens.input * rate.input + tokens.output * rate.output
    + tokens.cacheRead * rate.cacheRead + tokens.cacheWrite * rate.cacheWrite) / 1_000_000;
}
