// Readable denials (issue 15, item 1): from inside a real bottle's agent, the tools an agent
// uses (curl, git over https, Node's fetch, npm; the image has no pip) reach a host off
// the allowlist over HTTPS and each shows the gateway's reason and the call to ask with,
// instead of "CONNECT tunnel failed". The fake upstream answers for newhost.test, so anything
// that leaked would be on its record. One bottle for the file.
import t from 'tap';
import { ASK_PROMPT } from '../../lib/plan/index.js';
import { sandboxGate, startSandbox } from '../helpers/sandbox.js';

const gate = await sandboxGate();
t.setTimeout(10 * 60_000);

const HOST = 'newhost.test';
const REASON = `blocked: ${HOST} is not on the allowlist`;
const CALL = `"host":"${HOST}","reason":"<why you need it>"`;
const PHRASE = `Forbidden (blocked: ${HOST} is not on the allowlist; ask with propose_allowlist_change)`;

// `curl` in the agent through the proxy env; prints the body, then "<code> <connect code>".
const CURL = "curl -sS -m 15 -w '\\n%{http_code} %{http_connect}'";
const parse = (out: string): { body: string; code: string; connect: string } => {
  const lines = out.split('\n');
  const [code = '', connect = ''] = (lines.pop() ?? '').split(' ');
  return { body: lines.join('\n'), code, connect };
};

interface Fetched { node: string; via: string; status?: number; statusText?: string; type?: string; body?: string; error?: string }

await t.test('sandbox denials', { skip: gate.skip }, async (t) => {
  const sb = await startSandbox(gate.docker!, { agent: 'e2e-denials' });
  t.teardown(() => sb.close());
  const curl = async (args: string) => parse((await sb.agent(`${CURL} ${args} 2>/dev/null`)).stdout);

  await t.test('the agent\'s system prompt explains the loop', async (t) => {
    const prompt = await sb.agent('cat /home/node/.bottle/prompt.md');
    t.equal(prompt.stdout, `You are the sandbox e2e agent.\n\n${ASK_PROMPT}\n`);
  });

  await t.test('curl over HTTPS: the tunnel opens and the 403 says why, as text or JSON', async (t) => {
    const text = await curl(`https://${HOST}/e2e/denial-curl`);
    t.same([text.connect, text.code], ['200', '403'], 'no "CONNECT tunnel failed": the answer comes from inside');
    t.equal(text.body.split('\n')[0], REASON);
    t.match(text.body, 'mcp__supervise__propose_allowlist_change', 'names the MCP tool');
    t.match(text.body, CALL, 'and its arguments for this host');
    const json = await curl(`-H 'Accept: application/json' https://${HOST}/e2e/denial-json`);
    t.equal(json.code, '403');
    t.match(JSON.parse(json.body), { error: 'blocked', host: HOST, reason: `${HOST} is not on the allowlist`, ask: 'propose_allowlist_change' });
  });

  await t.test('git over https: remote: lines carry the reason', async (t) => {
    const r = await sb.agent(`GIT_TERMINAL_PROMPT=0 git ls-remote https://${HOST}/e2e/denial-repo.git`);
    t.not(r.exitCode, 0);
    t.match(r.stderr, new RegExp(`^remote: ${REASON.replace(/\./g, '\\.')}$`, 'm'));
    t.match(r.stderr, /^remote: To ask the operator for access, call the supervise MCP tool propose_allowlist_change/m);
  });

  await t.test('Node fetch: status text and body carry the reason', async (t) => {
    // NODE_USE_ENV_PROXY: fetch reads HTTPS_PROXY itself where the image's Node can (the probe
    // says which way it went).
    const env = ['NODE_USE_ENV_PROXY=1'];
    const text = await sb.probe<Fetched>('fetch', [`https://${HOST}/e2e/denial-fetch`], 'agent', env);
    t.match(text, { status: 403, statusText: PHRASE }, `node ${text.node} (${text.via})`);
    t.equal(text.body?.split('\n')[0], REASON);
    const json = await sb.probe<Fetched>('fetch', [`https://${HOST}/e2e/denial-fetch-json`, 'application/json'], 'agent', env);
    t.match(JSON.parse(json.body ?? '{}'), { error: 'blocked', host: HOST, ask: 'propose_allowlist_change' });
  });

  await t.test('npm: the error line carries the reason', async (t) => {
    const r = await sb.agent(`npm view e2e-denial-pkg version --registry https://${HOST}/ --fetch-retries 0 --no-update-notifier`);
    t.not(r.exitCode, 0);
    t.match(`${r.stdout}${r.stderr}`, `403 ${PHRASE} - GET https://${HOST}/e2e-denial-pkg`);
  });

  // Issue 15 asks for pip "if in the image": it is not. Pinned, so an image that gains pip fails
  // here and gets its case (pip shows the reason with -v: the status phrase) instead of a skip.
  await t.test('pip is not in the agent image (the pip case does not apply)', async (t) => {
    t.equal((await sb.agent('command -v pip3 || command -v pip')).stdout.trim(), '');
  });

  await t.test('what stays refused at the CONNECT: a private address', async (t) => {
    const literal = await curl(`https://${sb.upstream.ip}/e2e/denial-private`);
    t.same([literal.connect, literal.code], ['403', '000'], "the upstream's own (private) address: CONNECT refused");
  });

  await t.test('nothing reached the upstream', async (t) => {
    const records = (await sb.upstream.records()).filter((r) => r.kind === 'http');
    const leaked = records.filter((r) => `${r.host} ${r.servername} ${r.url}`.includes(HOST) || /denial/.test(r.url ?? ''));
    t.same(leaked, []);
  });
});
