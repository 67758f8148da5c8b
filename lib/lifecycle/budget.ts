// A bottle's budget on the host: budget.json in its policy directory (start writes it from the
// plan), read by `bottle budget`, `bottle usage` and the dashboard, changed live by
// `bottle budget --usd` (write-temp + rename, as the gateway's directory watch expects, then a
// reload). The usage it is judged against is the events file's, priced as the gateway prices it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { BottlePaths } from '../state/index.js';
import {
  BUDGET_FILE, DEFAULT_WARN_AT, MAX_BUDGET_TOKENS, MAX_BUDGET_USD, budgetFileText, parseBudgetFile, type Budget, type BudgetFileContent,
} from '../usage/budget.js';

export function budgetFilePath(paths: Pick<BottlePaths, 'policy'>): string {
  return join(paths.policy, BUDGET_FILE);
}

// The file's content; none when it is absent (a bottle started before budgets: no cap). An
// invalid file is a UserError naming it.
export function readBudgetFile(paths: Pick<BottlePaths, 'policy'>): BudgetFileContent | undefined {
  const file = budgetFilePath(paths);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return parseBudgetFile(text);
  } catch (e) {
    throw new UserError(`${file}: ${(e as Error).message}; fix it or set the budget again with bottle budget`);
  }
}

// What a change asks for: new caps (undefined keeps, null removes), a new warning fraction.
export interface BudgetChange { usd?: number | null; tokens?: number | null; warnAt?: number }

// The budget after `change`, prices kept; written atomically. Returns the new content.
export function changeBudget(paths: Pick<BottlePaths, 'policy'>, change: BudgetChange): BudgetFileContent {
  const current = readBudgetFile(paths) ?? { warnAt: DEFAULT_WARN_AT };
  const next: BudgetFileContent = { ...current };
  for (const k of ['usd', 'tokens'] as const) {
    const v = change[k];
    if (v === null) delete next[k];
    else if (v !== undefined) next[k] = v;
  }
  if (change.warnAt !== undefined) next.warnAt = change.warnAt;
  const { prices, ...budget } = next;
  const file = budgetFilePath(paths);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, budgetFileText(budget as Budget, prices), { mode: 0o644 });
  renameSync(tmp, file);
  return next;
}

// What `bottle budget` (and the dashboard's `$`) were given, as typed.
export interface BudgetOptions { usd?: string; tokens?: string; warnAt?: string; off?: boolean; json?: boolean }

// A number option: finite, within [min, max]; the message names the option and the fix.
function numberOption(flag: string, raw: string, max: number, what: string): number {
  const n = /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n > max) throw new UserError(`${flag} ${JSON.stringify(raw)}: expected ${what} from 0 to ${max}`);
  return n;
}

export function budgetChange(o: BudgetOptions): BudgetChange | undefined {
  if (o.off && (o.usd !== undefined || o.tokens !== undefined)) throw new UserError('--off lifts every cap; give it alone, or --usd/--tokens to set one');
  const change: BudgetChange = {};
  if (o.off) Object.assign(change, { usd: null, tokens: null });
  if (o.usd !== undefined) change.usd = numberOption('--usd', o.usd.replace(/^\$/, ''), MAX_BUDGET_USD, 'USD (e.g. 20 or 2.50)');
  if (o.tokens !== undefined) {
    const n = numberOption('--tokens', o.tokens, MAX_BUDGET_TOKENS, 'a whole number of tokens');
    if (!Number.isInteger(n)) throw new UserError(`--tokens ${o.tokens}: expected a whole number of tokens`);
    change.tokens = n;
  }
  if (o.warnAt !== undefined) {
    const f = numberOption('--warn-at', o.warnAt, 1, 'a fraction (0.8 warns at 80%)');
    if (f === 0) throw new UserError('--warn-at 0: expected a fraction above 0 (0.8 warns at 80%)');
    change.warnAt = f;
  }
  return Object.keys(change).length > 0 ? change : undefined;
}
