// The budget stage (issue 16 item 4): once the bottle's model usage reaches its cap, further
// model requests (POST /v1/messages on the model route) are answered here with a 402
// billing_error, which Claude Code prints as `API Error: 402 <message>` and does not retry
// (checked with claude 2.1.x: a 400 is retried, a 403 reads "Failed to authenticate"). The
// usage is what the events file says, read on from the last check (lib/usage IncrementalUsage):
// both gateway replicas append to it, and a restarted gateway reads it whole, so the count
// survives restarts. The budget comes from budget.json in the policy directory, re-read on
// every reload; raising it there lets the next request through, nothing restarts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTokens } from '../../lib/format.js';
import {
  BUDGET_FILE, IncrementalUsage, allTokens, budgetState, budgetText, hasCap, parseBudgetFile, type BudgetFileContent,
} from '../../lib/usage/index.js';

// The answer for a request over the budget: what is logged, and the Messages API error body.
export interface BudgetStop { reason: string; body: string }

export class BudgetGuard {
  #content: BudgetFileContent | undefined;
  #usage: IncrementalUsage | undefined;
  #pricesKey = '';

  constructor(private readonly policyDir: string, private readonly eventsFile: string | undefined, private readonly diag: (m: string) => void) {
    this.reload();
  }

  // Re-reads budget.json: absent means no budget; unreadable or invalid keeps the last one.
  reload(): void {
    const file = join(this.policyDir, BUDGET_FILE);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') this.#content = undefined;
      else this.diag(`budget: cannot read ${file} (${(e as Error).message}); keeping the last budget`);
      return;
    }
    try {
      const next = parseBudgetFile(text);
      const before = this.#content;
      this.#content = next;
      const key = JSON.stringify(next.prices ?? {});
      if (key !== this.#pricesKey) {
        this.#pricesKey = key;
        this.#usage = undefined; // re-priced from the start of the file
      }
      if (JSON.stringify(before ?? {}) !== JSON.stringify(next)) {
        this.diag(hasCap(next) ? `budget: ${budgetText(next)} (warn at ${Math.round(next.warnAt * 100)}%)` : 'budget: none');
      }
    } catch (e) {
      this.diag(`budget: ${file} is invalid (${(e as Error).message}); keeping the last budget`);
    }
  }

  // undefined: the request may go; else why not. Only model requests are asked.
  check(): BudgetStop | undefined {
    const b = this.#content;
    if (!hasCap(b) || this.eventsFile === undefined) return undefined;
    this.#usage ??= new IncrementalUsage(this.eventsFile, { prices: b.prices ?? {} });
    this.#usage.update();
    const totals = this.#usage.totals();
    const state = budgetState(b, totals);
    if (state.level !== 'paused') return undefined;
    const used = state.by === 'tokens' ? `${formatTokens(allTokens(totals))} tokens` : `$${(totals.usd ?? 0).toFixed(2)}`;
    const reason = `budget reached: ${used} used of ${budgetText(b)}`;
    const message = `bottle: this bottle's budget is used up (${used} of ${budgetText(b)}). `
      + 'The operator can raise or lift it with `bottle budget <slug> --usd N` (or $ in the dashboard); the next request then goes through.';
    return { reason, body: JSON.stringify({ type: 'error', error: { type: 'billing_error', message } }) };
  }
}
