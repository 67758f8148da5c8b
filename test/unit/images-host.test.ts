// What the host hands an image build: the CA bundle (in a fixed order of sources), the npm
// registry (without credentials) and the proxy build args.
import t from 'tap';
import { describeCa, parseNpmValue, proxyBuildArgs, readNpmConfig, registryBuildArg, selectCaFile } from '../../lib/images/host.js';
import type { Runner } from '../../lib/run/index.js';
import { UserError } from '../../lib/errors.js';

const files = (...present: string[]) => (p: string) => present.includes(p);

t.test('CA: --ca-file, then NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, npm cafile, else none', async (t) => {
  const env = { NODE_EXTRA_CA_CERTS: '/ca/node.pem', SSL_CERT_FILE: '/ca/ssl.pem' };
  const npm = { cafile: '/ca/npm.pem' };
  const all = files('/ca/flag.pem', '/ca/node.pem', '/ca/ssl.pem', '/ca/npm.pem');
  t.same(selectCaFile({ flag: 'flag.pem', env, npm, cwd: '/ca', isFile: all }), { path: '/ca/flag.pem', source: '--ca-file', skipped: [] });
  t.match(selectCaFile({ env, npm, cwd: '/', isFile: all }), { path: '/ca/node.pem', source: 'NODE_EXTRA_CA_CERTS' });
  t.match(selectCaFile({ env: { SSL_CERT_FILE: '/ca/ssl.pem' }, npm, cwd: '/', isFile: all }), { path: '/ca/ssl.pem', source: 'SSL_CERT_FILE' });
  t.match(selectCaFile({ env: {}, npm, cwd: '/', isFile: all }), { path: '/ca/npm.pem', source: 'npm cafile' });
  t.same(selectCaFile({ env: {}, npm: {}, cwd: '/', isFile: all }), { source: 'none', skipped: [] });
});

t.test('CA: a named but missing file is skipped (env/npm) or an error (--ca-file)', async (t) => {
  const env = { NODE_EXTRA_CA_CERTS: 'gone.pem', SSL_CERT_FILE: '' };
  const choice = selectCaFile({ env, npm: { cafile: '/ca/npm.pem' }, cwd: '/home/op', isFile: files('/ca/npm.pem') });
  t.same(choice, {
    path: '/ca/npm.pem',
    source: 'npm cafile',
    skipped: [{ source: 'NODE_EXTRA_CA_CERTS', path: '/home/op/gone.pem', why: 'not a readable file' }],
  }, 'relative env paths resolve against cwd; empty values are not candidates');
  t.match(describeCa(choice), /^extra CA: \/ca\/npm\.pem \(from npm cafile\); ignored NODE_EXTRA_CA_CERTS=\/home\/op\/gone\.pem/);
  t.throws(() => selectCaFile({ flag: 'nope.pem', env: {}, npm: {}, cwd: '/', isFile: files() }), UserError);
  t.match(describeCa({ source: 'none', skipped: [] }), /^extra CA: none/);
});

t.test('npm config values: "null"/"undefined" mean unset', async (t) => {
  t.equal(parseNpmValue('https://registry.example.test/\n'), 'https://registry.example.test/');
  t.equal(parseNpmValue('null'), undefined);
  t.equal(parseNpmValue('undefined\n'), undefined);
  t.equal(parseNpmValue(''), undefined);
});

t.test('readNpmConfig asks npm through the runner and survives a missing npm', async (t) => {
  const calls: string[][] = [];
  const run: Runner = async (argv) => {
    calls.push([...argv]);
    const stdout = argv[3] === 'registry' ? 'https://npm.example.test/' : 'null';
    return { argv: [...argv], exitCode: 0, stdout, stderr: '', durationMs: 1, failed: false, timedOut: false };
  };
  t.same(await readNpmConfig(run, '/'), { registry: 'https://npm.example.test/' });
  t.same(calls.sort(), [['npm', 'config', 'get', 'cafile'], ['npm', 'config', 'get', 'registry']]);
  const missing: Runner = async () => { throw new Error('spawn npm ENOENT'); };
  t.same(await readNpmConfig(missing, '/'), {});
});

t.test('registry build arg: credentials are dropped (they would persist in docker history)', async (t) => {
  t.same(registryBuildArg(undefined), { value: '' });
  t.same(registryBuildArg('https://npm.example.test/'), { value: 'https://npm.example.test/' });
  const stripped = registryBuildArg('https://me:s3cret@npm.example.test/repo/'); // gitleaks:allow (test dummy)
  t.equal(stripped.value, 'https://npm.example.test/repo/');
  t.match(stripped.note, /credentials removed/);
  t.same(registryBuildArg('not a url').value, '');
});

t.test('proxy build args pass through only what is set', async (t) => {
  t.same(proxyBuildArgs({ HTTPS_PROXY: 'http://proxy.test:3128', no_proxy: 'localhost', HTTP_PROXY: '', PATH: '/bin' }),
    { HTTPS_PROXY: 'http://proxy.test:3128', no_proxy: 'localhost' });
});
