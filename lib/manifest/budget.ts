// Validation of `budget:` (defaults and per agent) and `auth:`. A budget caps a bottle's model
// spend in USD and/or tokens, with a warning at `warn_at` of a cap (lib/usage/budget.ts).
import { isScalar } from 'yaml';
import { AUTH_SETTINGS, type AuthSetting } from '../plan/auth.js';
import { MAX_BUDGET_TOKENS, MAX_BUDGET_USD, type Budget } from '../usage/budget.js';
import { kindOf, type Val, type Walker } from './walk.js';

const BUDGET_KEYS = ['usd', 'tokens', 'warn_at'] as const;

// As written: any of the three; the plan merges an agent's over the defaults' key by key.
export type BudgetSpec = Partial<Budget>;

export function readBudget(w: Walker, v: Val): BudgetSpec {
  const out: BudgetSpec = {};
  const f = w.fields(v, BUDGET_KEYS);
  if (!f) return out;
  if (f.usd) {
    const n = number(w, f.usd, 'USD (e.g. 10 or 2.50)');
    if (n !== undefined && (n < 0 || n > MAX_BUDGET_USD)) w.fail(f.usd, `expected USD from 0 to ${MAX_BUDGET_USD}`);
    else if (n !== undefined) out.usd = n;
  }
  if (f.tokens) {
    const n = w.int(f.tokens, 'a whole number of tokens (e.g. 2000000)');
    if (n !== undefined && (n < 0 || n > MAX_BUDGET_TOKENS)) w.fail(f.tokens, `expected a number of tokens from 0 to ${MAX_BUDGET_TOKENS}`);
    else if (n !== undefined) out.tokens = n;
  }
  if (f.warn_at) {
    const n = number(w, f.warn_at, 'a fraction of the budget (e.g. 0.8)');
    if (n !== undefined && !(n > 0 && n <= 1)) w.fail(f.warn_at, 'expected a fraction above 0 and at most 1 (0.8 warns at 80% of the budget)');
    else if (n !== undefined) out.warnAt = n;
  }
  return out;
}

export function readAuth(w: Walker, v: Val): AuthSetting | undefined {
  const s = w.str(v, `one of ${AUTH_SETTINGS.join(', ')}`);
  if (s === undefined) return undefined;
  if ((AUTH_SETTINGS as readonly string[]).includes(s)) return s as AuthSetting;
  w.fail(v, `expected one of: ${AUTH_SETTINGS.join(', ')} (api-key: $ANTHROPIC_API_KEY; oauth-token: $CLAUDE_CODE_OAUTH_TOKEN from \`claude setup-token\`; auto: whichever the host has, API key first)`);
  return undefined;
}

function number(w: Walker, v: Val, what: string): number | undefined {
  const n = v.node && isScalar(v.node) ? v.node.value : undefined;
  if (typeof n === 'number' && Number.isFinite(n)) return n;
  w.fail(v, `expected ${what}, got ${kindOf(v.node)}`);
  return undefined;
}
