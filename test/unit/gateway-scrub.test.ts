// The response mask on its own: in-place masking, the held-back tail, and a differential check
// that any chunking of a stream masks exactly what masking the whole body at once does.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import { prepareCanaries } from '../../lib/policy/index.js';
import { decoderFor, FrameMask, maskHeaders, maskInPlace, maskNeedles, pendingTail, SecretMask } from '../../sidecars/gateway/scrub.js';
import { encodeFrame, FrameReader } from '../helpers/upstream.js';

const SECRET = 'rt_9f8e7d6c5b4a39281706f5e4';
const needles = maskNeedles(prepareCanaries([SECRET]));

t.test('maskInPlace: every occurrence, same length, of every form', async (t) => {
  const b64 = Buffer.from(SECRET).toString('base64');
  const buf = Buffer.from(`a ${SECRET} b ${SECRET}${SECRET} c ${b64} d`);
  const before = buf.length;
  t.ok(maskInPlace(buf, needles) >= 4);
  t.equal(buf.length, before);
  const stars = '*'.repeat(SECRET.length);
  t.ok(buf.toString().startsWith(`a ${stars} b ${stars}${stars} c `), 'raw copies masked, back to back too');
  t.ok(buf.toString().endsWith(' d'));
  t.notOk(buf.toString().includes(SECRET.slice(0, 12)));
  t.notOk(prepareCanaries([SECRET]).forms.some((f) => buf.toString().includes(f.text)), 'no form survives');
  t.equal(maskInPlace(Buffer.from('nothing here'), needles), 0);
});

t.test('pendingTail: only a tail that starts a needle is held', async (t) => {
  t.equal(pendingTail(Buffer.from('data: hello\n\n'), needles), 0, 'ordinary text is not held');
  t.equal(pendingTail(Buffer.from(`x ${SECRET.slice(0, 5)}`), needles), 5);
  t.equal(pendingTail(Buffer.from(SECRET.slice(0, SECRET.length - 1)), needles), SECRET.length - 1);
  t.equal(pendingTail(Buffer.alloc(0), needles), 0);
});

async function through(parts: Buffer[], mask: SecretMask | FrameMask = new SecretMask(needles)): Promise<Buffer> {
  const out: Buffer[] = [];
  mask.on('data', (c: Buffer) => out.push(c));
  await new Promise<void>((resolve, reject) => {
    mask.on('end', resolve).on('error', reject);
    Readable.from(parts).pipe(mask);
  });
  return Buffer.concat(out);
}

t.test('SecretMask: any chunking masks exactly what whole-body masking does', async (t) => {
  const forms = prepareCanaries([SECRET]).forms.map((f) => f.text);
  for (let round = 0; round < 200; round++) {
    // Noise with secrets (in assorted forms) planted at random places.
    const pieces: string[] = [];
    for (let i = 0; i < 6; i++) {
      pieces.push(randomBytes(1 + (round * 7 + i * 13) % 40).toString('base64url'));
      if ((round + i) % 3 === 0) pieces.push(forms[(round + i) % forms.length]!);
    }
    const whole = Buffer.from(pieces.join(' '));
    const want = Buffer.from(whole);
    maskInPlace(want, needles);
    const parts: Buffer[] = [];
    for (let at = 0; at < whole.length;) {
      const n = 1 + ((round * 31 + at * 17) % 23);
      parts.push(whole.subarray(at, at + n));
      at += n;
    }
    const got = await through(parts);
    if (!got.equals(want)) {
      t.fail(`round ${round}: chunked result differs from whole-body masking`);
      return;
    }
  }
  t.pass('200 random bodies, cut into 1-23 byte chunks: identical to whole-body masking');
});

t.test('FrameMask: frames keep their lengths, each payload is masked whatever the chunking', async (t) => {
  const forms = prepareCanaries([SECRET]).forms.map((f) => f.text);
  for (let round = 0; round < 100; round++) {
    // Frames of every length encoding (7-bit, 16-bit, 64-bit), text, binary, ping, empty.
    const payloads = [0, 5, 125, 126, 300, 70_000].map((size, i) => {
      const noise = Buffer.alloc(size, 0x61 + ((round + i) % 20));
      const at = size > SECRET.length ? (round * 37 + i * 11) % (size - SECRET.length) : -1;
      if (at >= 0) Buffer.from(forms[(round + i) % forms.length]!).copy(noise, at, 0, Math.min(size - at, forms[(round + i) % forms.length]!.length));
      return noise;
    });
    const opcodes = [1, 2, 1, 9, 2, 1];
    const stream = Buffer.concat(payloads.map((p, i) => encodeFrame(opcodes[i]!, p, false)));
    const parts: Buffer[] = [];
    for (let at = 0; at < stream.length;) {
      const n = 1 + ((round * 131 + at * 7) % (round % 2 ? 9 : 5000));
      parts.push(stream.subarray(at, at + n));
      at += n;
    }
    const got = new FrameReader().push(await through(parts, new FrameMask(needles)));
    const want = payloads.map((p) => { const b = Buffer.from(p); maskInPlace(b, needles); return b; });
    if (got.length !== want.length || got.some((f, i) => f.opcode !== opcodes[i] || !f.payload.equals(want[i]!))) {
      t.fail(`round ${round}: frames differ from per-frame masking`);
      return;
    }
  }
  t.pass('100 streams of six frames, cut into 1-9 or 1-5000 byte chunks: identical to masking each payload whole');
});

t.test('FrameMask refuses frames it cannot check', async (t) => {
  const masked = encodeFrame(1, Buffer.from('x'), true); // servers never mask
  await t.rejects(through([masked], new FrameMask(needles)), /masked frame/);
  const compressed = encodeFrame(1, Buffer.from('x'), false);
  compressed[0] = compressed[0]! | 0x40;
  await t.rejects(through([compressed], new FrameMask(needles)), /compressed frame/);
});

t.test('maskHeaders masks values only and counts', async (t) => {
  const { headers, masked } = maskHeaders(['X-Echo', `Bearer ${SECRET}`, 'X-Other', 'fine'], needles);
  t.same(headers, ['X-Echo', `Bearer ${'*'.repeat(SECRET.length)}`, 'X-Other', 'fine']);
  t.equal(masked, 1);
});

t.test('decoderFor: identity, the three zlib codings, and refusal of the rest', async (t) => {
  t.equal(decoderFor(undefined), 'identity');
  t.equal(decoderFor('identity'), 'identity');
  for (const c of ['gzip', 'x-gzip', 'deflate', 'br', ' GZIP ']) t.type(decoderFor(c), 'function', c);
  for (const c of ['zstd', 'compress', 'gzip, br']) t.equal(decoderFor(c), undefined, c);
});
