// The response mask on its own: in-place masking, the held-back tail, and a differential check
// that any chunking of a stream masks exactly what masking the whole body at once does.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import { prepareCanaries } from '../../lib/policy/index.js';
import { decoderFor, FrameMask, maskHeaders, maskInPlace, maskNeedles, pendingTail, SecretMask } from '../../sidecars/gateway/scrub.js';
import { encodeFrame, FrameReader } from '../helpers/upstream.js';

// A form written the way URL and JSON encoders reflect it: every byte, or every other one,
// as %HH (either case) or \u00HH, or `/` as `\/`.
const escapes = (form: string): string[] => {
  const b = [...Buffer.from(form)];
  const pct = (x: number) => `%${x.toString(16).padStart(2, '0')}`;
  return [
    b.map((x) => pct(x).toUpperCase()).join(''),
    b.map((x, i) => (i % 2 ? pct(x) : String.fromCharCode(x))).join(''),
    b.map((x) => `\\u${x.toString(16).padStart(4, '0')}`).join(''),
    form.replace(/\//g, '\\/').replace(/\+/g, '\\u002B'),
  ];
};

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
  t.equal(maskInPlace(Buffer.from('100% sure: \\u0041 and %41%42 \\/ are not secrets'), needles), 0, 'escapes alone are left alone');
});

t.test('maskInPlace: escaped copies (percent, JSON), whole and mixed, every form', async (t) => {
  for (const form of prepareCanaries([SECRET]).forms.map((f) => f.text)) {
    for (const e of escapes(form)) {
      const buf = Buffer.from(`x ${e} y`);
      t.ok(maskInPlace(buf, needles) >= 1, e);
      t.equal(buf.toString(), `x ${'*'.repeat(e.length)} y`, `${e}: masked whole, same length`);
    }
  }
});

t.test('pendingTail: only a tail that starts a needle is held', async (t) => {
  t.equal(pendingTail(Buffer.from('data: hello\n\n'), needles), 0, 'ordinary text is not held');
  t.equal(pendingTail(Buffer.from(`x ${SECRET.slice(0, 5)}`), needles), 5);
  t.equal(pendingTail(Buffer.from(SECRET.slice(0, SECRET.length - 1)), needles), SECRET.length - 1);
  t.equal(pendingTail(Buffer.alloc(0), needles), 0);
  const pct = escapes(SECRET)[0]!;
  t.equal(pendingTail(Buffer.from(`x ${pct.slice(0, 10)}`), needles), 10, 'the start of an escaped copy is held');
  t.equal(pendingTail(Buffer.from('x %7'), needles), 2, 'so is a cut escape');
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
      if ((round + i) % 5 === 0) pieces.push(escapes(forms[(round * 3 + i) % forms.length]!)[(round + i) % 4]!);
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

t.test('maskHeaders: values, names, the reason, and a secret cut across headers', async (t) => {
  const stars = (n: number) => '*'.repeat(n);
  const { headers, masked } = maskHeaders(['X-Echo', `Bearer ${SECRET}`, 'X-Other', 'fine'], needles);
  t.same(headers, ['X-Echo', `Bearer ${stars(SECRET.length)}`, 'X-Other', 'fine']);
  t.equal(masked, 1);
  const named = maskHeaders([`X-${SECRET}`, '1'], needles, `OK ${SECRET}`);
  t.same(named, { headers: [`X-${stars(SECRET.length)}`, '1'], message: `OK ${stars(SECRET.length)}`, masked: 2 });
  const half = Math.floor(SECRET.length / 2);
  const split = maskHeaders(['X-A', `a${SECRET.slice(0, half)}`, 'X-B', `${SECRET.slice(half)}z`], needles);
  t.same(split.headers, ['X-A', `a${stars(half)}`, 'X-B', `${stars(SECRET.length - half)}z`], 'both halves masked, lengths kept');
  const plain = ['Content-Type', 'text/plain', 'Location', '/a%20b?c=\\u0041'];
  t.same(maskHeaders(plain, needles, 'OK'), { headers: plain, message: 'OK', masked: 0 }, 'an ordinary head is untouched');
});

t.test('decoderFor: identity, the three zlib codings, and refusal of the rest', async (t) => {
  t.equal(decoderFor(undefined), 'identity');
  t.equal(decoderFor('identity'), 'identity');
  for (const c of ['gzip', 'x-gzip', 'deflate', 'br', ' GZIP ']) t.type(decoderFor(c), 'function', c);
  for (const c of ['zstd', 'compress', 'gzip, br']) t.equal(decoderFor(c), undefined, c);
  t.equal(decoderFor(undefined, 'chunked'), 'identity', 'chunked is undone by node');
  t.type(decoderFor(undefined, 'gzip, chunked'), 'function', 'a transfer coding is decoded too');
  t.equal(decoderFor('br', 'gzip, chunked'), undefined, 'two codings: refused');
});
