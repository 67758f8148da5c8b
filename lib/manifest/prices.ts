// Validation of `prices:` (defaults and per agent): model name or prefix -> USD per million
// tokens for each token class, overriding the built-in table (lib/usage/prices.ts).
import { isScalar } from 'yaml';
import { PRICE_CLASSES, type PriceRate, type PriceTable } from '../usage/prices.js';
import { kindOf, type Val, type Walker } from './walk.js';

// A model name or prefix as the API names models (claude-sonnet-4-5-20250929, claude-opus-4).
export const PRICE_KEY = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$/;
// Above this a per-million price is a typo (a per-token price times a million, say).
const MAX_PRICE = 100_000;

export function readPrices(w: Walker, v: Val): PriceTable {
  const out = Object.create(null) as PriceTable;
  for (const e of w.entries(v) ?? []) {
    if (!PRICE_KEY.test(e.key)) {
      w.fail(e.val, 'expected a model name or prefix (e.g. claude-sonnet-4)', e.keyNode);
      continue;
    }
    const f = w.fields(e.val, PRICE_CLASSES);
    if (!f) continue;
    const rate: Partial<PriceRate> = {};
    for (const c of PRICE_CLASSES) {
      const field = f[c];
      if (!field) {
        w.fail({ ...e.val, path: `${e.val.path}.${c}` }, `required (USD per million ${CLASS_WORDS[c]} tokens)`, e.keyNode);
        continue;
      }
      const n = readPrice(w, field);
      if (n !== undefined) rate[c] = n;
    }
    if (PRICE_CLASSES.every((c) => rate[c] !== undefined)) out[e.key] = rate as PriceRate;
  }
  return { ...out };
}

const CLASS_WORDS: Record<(typeof PRICE_CLASSES)[number], string> = {
  input: 'input', output: 'output', cacheRead: 'cache-read input', cacheWrite: 'cache-write input',
};

function readPrice(w: Walker, v: Val): number | undefined {
  const n = v.node && isScalar(v.node) ? v.node.value : undefined;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    w.fail(v, `expected USD per million tokens (a number such as 3 or 0.3), got ${kindOf(v.node)}`);
    return undefined;
  }
  if (n < 0 || n > MAX_PRICE) {
    w.fail(v, `expected USD per million tokens from 0 to ${MAX_PRICE}, got ${v.node && isScalar(v.node) ? (v.node.source ?? n) : n}`);
    return undefined;
  }
  return n;
}
