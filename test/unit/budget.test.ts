// Issue 16 item 4, the pure half and the host file: where usage stands against a budget (the
// gateway, the dashboard and `bottle budget` all ask budgetState), the budget.json format, and
// the live change `bottle budget` makes to it.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changeBudget, readBudgetFile } from '../../lib/lifecycle/index.js';
import { BUDGET_FILE, budgetFileText, budgetState, parseBudgetFile, type Budget } from '../../lib/usage/index.js';

const used = (usd: number | null, tokens = 0) => ({ usd, input: tokens, output: 0, cacheRead: 0, cacheWrite: 0 });

t.test('budgetState: ok below warn_at, warn from it, paused at the cap', async (t) => {
  const usd: Budget = { usd: 10, warnAt: 0.8 };
  t.same(budgetState(usd, used(7.99)), { level: 'ok', fraction: 0.799 });
  t.same(budgetState(usd, used(8)), { level: 'warn', fraction: 0.8, by: 'usd' });
  t.same(budgetState(usd, used(10)), { level: 'paused', fraction: 1, by: 'usd' }, 'at the cap is paused');
  t.same(budgetState(usd, used(12)), { level: 'paused', fraction: 1.2, by: 'usd' });
  t.same(budgetState(usd, used(null, 1e9)), { level: 'ok', fraction: 0 }, 'usd null (nothing priced) counts as $0; tokens without a token cap are free');

  const tokens: Budget = { tokens: 1000, warnAt: 0.5 };
  t.same(budgetState(tokens, { usd: 0, input: 100, output: 100, cacheRead: 200, cacheWrite: 100 }), { level: 'warn', fraction: 0.5, by: 'tokens' }, 'every token class counts');
  t.same(budgetState(tokens, used(0, 999)), { level: 'warn', fraction: 0.999, by: 'tokens' });
  t.same(budgetState(tokens, used(0, 1000)), { level: 'paused', fraction: 1, by: 'tokens' });

  const both: Budget = { usd: 10, tokens: 1000, warnAt: 0.8 };
  t.same(budgetState(both, used(9, 100)), { level: 'warn', fraction: 0.9, by: 'usd' }, 'the larger fraction wins (usd)');
  t.same(budgetState(both, used(1, 1000)), { level: 'paused', fraction: 1, by: 'tokens' }, 'the larger fraction wins (tokens)');
  t.same(budgetState(both, used(null, 100)), { level: 'ok', fraction: 0.1 });

  t.same(budgetState({ usd: 0, warnAt: 0.8 }, used(0)), { level: 'paused', fraction: 1, by: 'usd' }, 'a cap of 0 pauses before any use');
  t.same(budgetState({ tokens: 0, warnAt: 0.8 }, used(null)), { level: 'paused', fraction: 1, by: 'tokens' },
    'regression: the fraction of a 0 cap was Infinity, which bottle budget --json printed as null and the text as "Infinity%"');
  t.same(budgetState({ usd: 0, tokens: 1000, warnAt: 0.8 }, used(0, 1500)), { level: 'paused', fraction: 1.5, by: 'tokens' });
  t.same(budgetState({ warnAt: 0.8 }, used(1e6, 1e12)), { level: 'ok', fraction: 0 }, 'warn_at alone caps nothing');
  t.same(budgetState(undefined, used(1e6)), { level: 'ok', fraction: 0 });
});

t.test('budget.json: parseBudgetFile takes what budgetFileText writes, prices included', async (t) => {
  const prices = { 'my-model': { input: 1, output: 2, cacheRead: 0.1, cacheWrite: 1.25 } };
  const cases: Array<[Budget | undefined, typeof prices | undefined]> = [
    [{ usd: 2.5, tokens: 2_000_000, warnAt: 0.9 }, prices],
    [{ usd: 0, warnAt: 1 }, undefined],
    [{ tokens: 10, warnAt: 0.8 }, {} as typeof prices],
    [undefined, undefined],
  ];
  for (const [b, p] of cases) {
    const text = budgetFileText(b, p);
    t.ok(text.endsWith('}\n'), 'JSON with a final newline');
    const back = parseBudgetFile(text);
    t.same(back, { warnAt: 0.8, ...(b ?? {}), ...(p && Object.keys(p).length > 0 ? { prices: p } : {}) }, text);
  }
  t.equal(budgetFileText(undefined, undefined), '{}\n', 'no budget: an empty object');
  t.notOk('prices' in parseBudgetFile(budgetFileText({ usd: 1, warnAt: 0.8 }, {})), 'an empty price table is not written');
});

t.test('budget.json: bad input is refused with what is wrong', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['not json', /JSON/],
    ['[]', /^expected a JSON object$/],
    ['null', /^expected a JSON object$/],
    ['{"usd": -1}', /^usd: expected a number from 0 to 1000000$/],
    ['{"usd": "5"}', /^usd: expected a number/],
    ['{"usd": 1e300}', /^usd: expected a number/],
    ['{"tokens": 1e13}', /^tokens: expected a number from 0 to 1000000000000$/],
    ['{"warnAt": 0}', /^warnAt: expected a fraction above 0$/],
    ['{"warnAt": 1.01}', /^warnAt: expected a number from 0 to 1$/],
    ['{"prices": []}', /^prices: expected an object$/],
    ['{"prices": {"m": {"input": 1, "output": 1, "cacheRead": 1}}}', /^prices\.m: expected USD per million tokens for input, output, cacheRead, cacheWrite$/],
    ['{"prices": {"m": {"input": -1, "output": 1, "cacheRead": 1, "cacheWrite": 1}}}', /^prices\.m: /],
  ];
  for (const [text, re] of bad) t.throws(() => parseBudgetFile(text), { message: re }, text);
  t.same(parseBudgetFile('{"usd": null, "tokens": 5}'), { warnAt: 0.8, tokens: 5 }, 'null is no cap');
});

t.test('changeBudget: sets, lifts with null, keeps prices and the other cap; atomic', async (t) => {
  const policy = mkdtempSync(join(tmpdir(), 'bottle-budget-'));
  t.teardown(() => rmSync(policy, { recursive: true, force: true }));
  const paths = { policy };
  const file = join(policy, BUDGET_FILE);
  t.equal(readBudgetFile(paths), undefined, 'no file: no budget');

  t.same(changeBudget(paths, { usd: 5 }), { warnAt: 0.8, usd: 5 }, 'a bottle without a file gets one');
  t.same(JSON.parse(readFileSync(file, 'utf8')), { warnAt: 0.8, usd: 5 });

  const prices = { 'my-model': { input: 1, output: 2, cacheRead: 0.1, cacheWrite: 1.25 } };
  writeFileSync(file, budgetFileText({ usd: 5, tokens: 100, warnAt: 0.5 }, prices));
  t.same(changeBudget(paths, { usd: 20 }), { warnAt: 0.5, usd: 20, tokens: 100, prices }, 'the other cap, warn_at and prices stay');
  t.same(readBudgetFile(paths), { warnAt: 0.5, usd: 20, tokens: 100, prices }, 'as written');
  t.same(changeBudget(paths, { tokens: null, warnAt: 0.9 }), { warnAt: 0.9, usd: 20, prices });
  t.same(changeBudget(paths, { usd: null, tokens: null }), { warnAt: 0.9, prices }, 'lifted: no cap, prices kept');
  t.same(readBudgetFile(paths), { warnAt: 0.9, prices });
  t.same(readdirSync(policy), [BUDGET_FILE], 'write-temp + rename: no temp file left');

  writeFileSync(file, '{"usd": "lots"}');
  t.throws(() => readBudgetFile(paths), { name: 'UserError', message: `${file}: usd: expected a number from 0 to 1000000; fix it or set the budget again with bottle budget` });
  t.throws(() => changeBudget(paths, { usd: 1 }), { name: 'UserError' }, 'an invalid file is not silently replaced');
  t.equal(readFileSync(file, 'utf8'), '{"usd": "lots"}');
});
