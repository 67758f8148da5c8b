// One rule set for egress, in the manifest and in the live policy: `manifest check`, `start
// --dry-run` and `allowlist edit` / `routes edit` accept and refuse the same entries with the
// same words (lib/policy/conflicts.ts). Regression (issue 20): a manifest passthrough host that
// was not allowed was accepted and silently allowed while `allowlist edit` refused it, and
// removing the model route in `routes edit` blamed a part "not shown in the editor".
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quote } from 'shell-quote';
import t from 'tap';
import { createBottle } from '../../lib/state/index.js';
import { bottleProcess } from '../helpers/cli.js';

const LIVE = `version: 1
allow: [registry.npmjs.org]
routes:
  - host: api.anthropic.com
    headers: { x-api-key: "\${ANTHROPIC_API_KEY}" }
model: { host: api.anthropic.com, serverFetch: false }
`;

const PASS_MSG = 'pypi.org is not allowed; add it to allow (passthrough only turns TLS interception off for a host that is allowed or routed)';
const MODEL_BLOCK_MSG = 'api.anthropic.com is the model API route (claude\'s own API calls and their key) and is blocked by "*.anthropic.com"; remove that block entry';

// A manifest in cwd, a bottle whose live policy is LIVE, and an $EDITOR that saves `text`.
async function world(t: { teardown(fn: () => unknown): void }, manifest: string) {
  const root = mkdtempSync(join(tmpdir(), 'bottle-egress-rules-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const cwd = join(root, 'cwd');
  mkdirSync(cwd);
  writeFileSync(join(cwd, 'bottle.yaml'), manifest);
  const b = await createBottle(join(root, 'state'), 'a', { backend: 'docker' });
  const policy = join(b.paths.policy, 'policy.yaml');
  writeFileSync(policy, LIVE);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: root, XDG_CONFIG_HOME: join(root, 'config'), BOTTLE_STATE_DIR: join(root, 'state'), ANTHROPIC_API_KEY: 'k'.repeat(40) };
  const saving = (text: string): NodeJS.ProcessEnv => {
    const file = join(root, `saved-${Math.random().toString(16).slice(2)}.yaml`);
    writeFileSync(file, text);
    return { ...env, EDITOR: quote(['cp', file]) };
  };
  const bottle = (args: string[], e = env) => bottleProcess(args, { cwd, env: e });
  return { slug: b.slug, policy, env, saving, bottle };
}

t.test('a passthrough host that is not allowed: manifest check, start --dry-run and allowlist edit refuse it in the same words', async (t) => {
  const w = await world(t, 'version: 1\nagents:\n  a:\n    egress:\n      allow: [registry.npmjs.org]\n      passthrough: [pypi.org]\n');
  const line = `bottle.yaml:6:21: agents.a.egress.passthrough[0]: ${PASS_MSG}`;
  const check = await w.bottle(['manifest', 'check']);
  t.equal(check.exitCode, 1, 'manifest check refuses it');
  t.match(check.stderr, `\n${line}\n`);
  const dry = await w.bottle(['start', 'a', '--dry-run']);
  t.equal(dry.exitCode, 1, 'so does start');
  t.match(dry.stderr, `bottle: ${line}`);
  t.equal(dry.stdout, '', 'no plan printed');
  const edit = await w.bottle(['allowlist', 'edit', w.slug], w.saving('allow: [registry.npmjs.org]\nblock: []\npassthrough: [pypi.org]\n'));
  t.equal(edit.exitCode, 1);
  t.match(edit.stderr, new RegExp(`^bottle: \\S+\\.allowlist\\.yaml:3:15: passthrough\\[0\\]: ${PASS_MSG.replace(/[()]/g, '\\$&')}; ${w.slug}'s policy is unchanged`));
  t.equal(readFileSync(w.policy, 'utf8'), LIVE);
  const fixed = await w.bottle(['allowlist', 'edit', w.slug], w.saving('allow: [registry.npmjs.org, pypi.org]\nblock: []\npassthrough: [pypi.org]\n'));
  t.equal(fixed.exitCode, 0, fixed.stderr);
  t.equal(fixed.stdout.trim(), `${w.slug}: + allow pypi.org, + passthrough pypi.org`, 'allowed as well: accepted');
});

t.test('a block that hits the model route: manifest check and allowlist edit refuse it in the same words', async (t) => {
  const w = await world(t, 'version: 1\nagents:\n  a:\n    egress:\n      block: ["*.anthropic.com"]\n');
  const check = await w.bottle(['manifest', 'check']);
  t.equal(check.exitCode, 1, 'manifest check refuses what start would fail on');
  t.match(check.stderr, `\nbottle.yaml:5:15: agents.a.egress.block[0]: ${MODEL_BLOCK_MSG}\n`);
  const edit = await w.bottle(['allowlist', 'edit', w.slug], w.saving('allow: [registry.npmjs.org]\nblock: ["*.anthropic.com"]\npassthrough: []\n'));
  t.equal(edit.exitCode, 1);
  t.match(edit.stderr, `routes[0].host: ${MODEL_BLOCK_MSG}; routes[0].host is not in this editor (use \`bottle routes edit\`): change your edit, or that entry first`);
  t.notMatch(edit.stderr, /not shown in the editor/);
});

t.test('routes edit: removing the model route says what was removed and how to put it back', async (t) => {
  const w = await world(t, 'version: 1\nagents:\n  a: {}\n');
  const r = await w.bottle(['routes', 'edit', w.slug], w.saving('routes: []\n'));
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^bottle: \S+\.routes\.yaml:1:1: routes: api\.anthropic\.com is the model API route \(claude's own API calls and their key go through it\) and cannot be removed; put its entry back: - \{ host: api\.anthropic\.com, headers: \{ x-api-key: "\$\{ANTHROPIC_API_KEY\}" \} \}; /);
  t.notMatch(r.stderr, /not shown in the editor/);
  t.equal(readFileSync(w.policy, 'utf8'), LIVE, 'policy unchanged');
});
