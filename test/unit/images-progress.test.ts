// Build progress from the engine's JSON stream (recorded from a Docker 20.10 legacy builder):
// one line per step off a TTY, every line on a TTY, and failures that name the step.
import t from 'tap';
import { Readable } from 'node:stream';
import { BuildProgress, buildFailureMessage, readJsonLines, shortenStep, type EngineMessage } from '../../lib/images/progress.js';

// `docker build` of FROM + two RUNs, the second exiting 3 (engine output, verbatim).
const FAILED_BUILD = `{"stream":"Step 1/3 : FROM bottle-base:node22-bookworm"}
{"stream":"\\n"}
{"stream":" ---\\u003e 8cdc20caba41\\n"}
{"stream":"Step 2/3 : RUN echo hello \\u0026\\u0026 echo line2"}
{"stream":"\\n"}
{"stream":" ---\\u003e Running in 9f4e742e1a2f\\n"}
{"stream":"hello\\n"}
{"stream":"line2\\n"}
{"stream":"Removing intermediate container 9f4e742e1a2f\\n"}
{"stream":" ---\\u003e e00db5d39cd1\\n"}
{"stream":"Step 3/3 : RUN echo about to fail \\u0026\\u0026 exit 3"}
{"stream":"\\n"}
{"stream":" ---\\u003e Running in dc9293f3284a\\n"}
{"stream":"about to fail\\n"}
{"stream":"Removing intermediate container dc9293f3284a\\n"}
{"errorDetail":{"code":3,"message":"The command '/bin/sh -c echo about to fail \\u0026\\u0026 exit 3' returned a non-zero code: 3"},"error":"The command '/bin/sh -c echo about to fail \\u0026\\u0026 exit 3' returned a non-zero code: 3"}
`;

const OK_TAIL = `{"stream":"Step 4/4 : LABEL dev.bottle.image=agent"}
{"stream":"\\n"}
{"stream":" ---\\u003e Running in 1b2c\\n"}
{"aux":{"ID":"sha256:ea834394301991e9853d0a5ad9088dce9261492d53eb117d68d6486620ae95dc"}}
{"stream":"Successfully built ea8343943019\\n"}
{"stream":"Successfully tagged bottle-agent:latest\\n"}
`;

async function feed(text: string, tty: boolean, chunk = 7): Promise<{ lines: string[]; progress: BuildProgress }> {
  const lines: string[] = [];
  const progress = new BuildProgress('agent', (l) => lines.push(l), tty);
  // Arbitrary chunking: JSON objects split across reads must still parse.
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += chunk) parts.push(text.slice(i, i + chunk));
  await readJsonLines(Readable.from(parts), (m) => progress.push(m));
  progress.end();
  return { lines, progress };
}

t.test('not a TTY: one line per step, nothing else', async (t) => {
  const { lines, progress } = await feed(FAILED_BUILD, false);
  t.same(lines, [
    '[agent] Step 1/3 : FROM bottle-base:node22-bookworm',
    '[agent] Step 2/3 : RUN echo hello && echo line2',
    '[agent] Step 3/3 : RUN echo about to fail && exit 3',
  ]);
  t.equal(progress.step, 'Step 3/3 : RUN echo about to fail && exit 3');
  t.match(progress.failure, /returned a non-zero code: 3/);
});

t.test('a TTY: every output line as it comes, prefixed', async (t) => {
  const { lines } = await feed(FAILED_BUILD, true, 3);
  t.same(lines.slice(0, 4), [
    '[agent] Step 1/3 : FROM bottle-base:node22-bookworm',
    '[agent]  ---> 8cdc20caba41',
    '[agent] Step 2/3 : RUN echo hello && echo line2',
    '[agent]  ---> Running in 9f4e742e1a2f',
  ]);
  t.ok(lines.includes('[agent] about to fail'));
});

t.test('the failure names image, tag, step and the last real output lines', async (t) => {
  const { progress } = await feed(FAILED_BUILD, false);
  const msg = buildFailureMessage('agent', 'bottle-agent:latest', progress);
  t.match(msg, /^building the agent image \(bottle-agent:latest\) failed at Step 3\/3 : RUN echo about to fail && exit 3: The command/);
  t.match(msg, /last output:\n {4}\| hello\n {4}\| line2\n {4}\| about to fail\n/);
  t.notMatch(msg, /Running in|Removing intermediate/, 'builder chatter is not "output"');
});

t.test('a successful stream yields the image id and no failure', async (t) => {
  const { lines, progress } = await feed(OK_TAIL, false);
  t.same(lines, ['[agent] Step 4/4 : LABEL dev.bottle.image=agent']);
  t.equal(progress.imageId, 'sha256:ea834394301991e9853d0a5ad9088dce9261492d53eb117d68d6486620ae95dc');
  t.equal(progress.failure, undefined);
});

t.test('pull status lines show on a TTY only; non-JSON text is kept, not dropped', async (t) => {
  const pull: EngineMessage = { status: 'Downloading', id: 'abc', progress: '[==>   ] 1MB/4MB' };
  const tty: string[] = [];
  new BuildProgress('sidecars', (l) => tty.push(l), true).push(pull);
  t.same(tty, ['[sidecars] abc: Downloading [==>   ] 1MB/4MB']);
  const plain: string[] = [];
  new BuildProgress('sidecars', (l) => plain.push(l), false).push(pull);
  t.same(plain, []);
  const seen: EngineMessage[] = [];
  await readJsonLines(Readable.from(['garbage line\n{"stream":"ok\\n"}']), (m) => seen.push(m));
  t.same(seen, [{ stream: 'garbage line\n' }, { stream: 'ok\n' }]);
});

t.test('the builder\'s red stderr colouring is dropped, tail included', async (t) => {
  const lines: string[] = [];
  const p = new BuildProgress('agent', (l) => lines.push(l), true);
  p.push({ stream: '\x1b[91mnpm warn deprecated x\n' });
  p.push({ stream: 'npm error 403\n\x1b[0m' });
  p.end();
  t.same(lines, ['[agent] npm warn deprecated x', '[agent] npm error 403']);
  t.same(p.lastLines(), ['npm warn deprecated x', 'npm error 403']);
});

t.test('shortenStep flattens continuations and caps the width', async (t) => {
  t.equal(shortenStep('RUN a \\\n    && b   c'), 'RUN a && b c');
  const long = `RUN ${'x'.repeat(200)}`;
  t.equal(shortenStep(long, 20), `RUN ${'x'.repeat(15)}…`);
  t.equal(shortenStep(long, 20).length, 20);
});
