// A bottle's budget on the host: budget.json in its policy directory (start writes it from the
// plan), read by `bottle budget`, `bottle usage` and the dashboard, changed live by
// `bottle budget --usd` (write-temp + rename, as the gateway's directory watch expects, then a
// reload). The usage it is judged against is the events file's, priced as the gateway prices it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { BottlePaths } from '../state/index.js';
import {
  BUDGET_FILE, DEFAULT_WARN_AT, budgetFileText, parseBudgetFile, type Budget, type BudgetFileContent,
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
