// canary: the bottle's own route secrets in any encoding, anywhere; reasons never quote them.
import t from 'tap';
import { dlpOnlyPolicy, evaluate, evaluateConnect, prepareCanaries, type HttpRequest } from '../../lib/policy/index.js';
import { encodeBase32 } from '../../lib/policy/decoders.js';
import { FAKE } from '../fixtures/policy/fake-secrets.js';

const open = dlpOnlyPolicy();
const SECRET = FAKE.routeToken;
const canaries = prepareCanaries([SECRET, 'short']);
const get = (url: string, headers: Record<string, string> = {}): HttpRequest => ({ method: 'GET', url, headers });
const post = (body: string, type = 'text/plain'): HttpRequest => ({ method: 'POST', url: 'https://x.test/', headers: { 'content-type': type }, body });

t.test('the token alone trips no scanner rule: only the canary stage knows it', async (t) => {
  t.match(evaluate(open, get(`https://x.test/?t=${SECRET}`)), { verdict: 'allow' });
  t.match(evaluate(open, get(`https://x.test/?t=${SECRET}`), canaries), { verdict: 'block', stage: 'canary', rule: 'canary-raw' });
});

t.test('every encoded form, in URL, headers and body', async (t) => {
  const bytes = Buffer.from(SECRET);
  const forms: Array<[string, string]> = [
    ['raw', SECRET],
    ['hex lower', bytes.toString('hex')],
    ['hex upper', bytes.toString('hex').toUpperCase()],
    ['base64 padded', bytes.toString('base64')],
    ['base64 url unpadded', bytes.toString('base64url')],
    ['base32', encodeBase32(bytes)],
    ['base32 lower', encodeBase32(bytes).toLowerCase()],
  ];
  for (const [name, form] of forms) {
    for (const [where, r] of [
      ['query', get(`https://x.test/?v=${encodeURIComponent(form)}`)],
      ['path', get(`https://x.test/p/${encodeURIComponent(form)}`)],
      ['header', get('https://x.test/', { 'X-Data': form })],
      ['body', post(`payload ${form} end`)],
      ['json body', post(JSON.stringify({ a: { b: form } }), 'application/json')],
    ] as Array<[string, HttpRequest]>) {
      const v = evaluate(open, r, canaries);
      t.equal(v.verdict, 'block', `${name} in ${where}`);
      t.notMatch(v.reason, SECRET, 'reason does not quote the secret');
      t.notMatch(v.reason, form, 'reason does not quote the encoded form');
    }
  }
});

t.test('a secret embedded at any offset of a larger encoded blob is found', async (t) => {
  for (let pad = 0; pad < 5; pad++) {
    const blob = Buffer.concat([Buffer.from('xyzw'.slice(0, pad)), Buffer.from(SECRET), Buffer.from('!tail')]);
    for (const [name, text] of [['base64', blob.toString('base64')], ['base64url', blob.toString('base64url')], ['base32', encodeBase32(blob)]]) {
      t.match(evaluate(open, post(`blob=${text}`), canaries), { stage: 'canary' }, `${name}, offset ${pad}`);
    }
  }
});

t.test('canary forms reach double percent-encoding and the hostname', async (t) => {
  const twice = encodeURIComponent(encodeURIComponent(`${SECRET}/x`));
  const noEntropy = { ...open, dlp: { ...open.dlp, entropy: false } };
  t.match(evaluate(open, get(`https://x.test/?q=${twice}`), canaries), { verdict: 'block', stage: 'entropy' }, 'entropy sees it first');
  t.match(evaluate(noEntropy, get(`https://x.test/?q=${twice}`), canaries), { stage: 'canary' });
  const label = Buffer.from(SECRET).toString('hex');
  t.match(evaluateConnect(open, `${label}.x.test`, 443, canaries), { verdict: 'block', stage: 'canary' }, 'hex label in a CONNECT host');
  t.match(evaluateConnect(open, 'x.test', 443, canaries), { verdict: 'allow' });
});

t.test('values shorter than 8 characters are not canaries', async (t) => {
  t.match(evaluate(open, get('https://x.test/?q=short'), canaries), { verdict: 'allow' });
  t.same(prepareCanaries(['tiny']).forms, []);
});

t.test('plain string arrays work too (prepared on the fly)', async (t) => {
  t.match(evaluate(open, post(`x ${SECRET}`), [SECRET]), { stage: 'canary' });
});
