// Canary stage: the bottle's own route secrets must never leave in any encoding. The agent is
// never given them, so seeing one means it found a copy somewhere and is echoing it out.
import { encodeBase32 } from './decoders.js';

interface Form { text: string; kind: string }

// Every searchable form of the route secrets, computed once per policy load.
export interface Canaries { readonly forms: readonly Form[] }

// Values shorter than this are not canaries: they would match innocent text.
const MIN_SECRET = 8;
const MIN_FORM = 8;

// Precomputes raw, hex (both cases), base64 (std and URL-safe, every byte alignment, padding
// dropped) and base32 (both cases, every alignment) forms of each secret value. Alignment
// matters because a secret embedded in a larger encoded blob is encoded from an arbitrary
// byte offset; trimming the characters that mix in neighbouring bytes makes the form match
// whatever surrounds it.
export function prepareCanaries(values: Iterable<string>): Canaries {
  const forms: Form[] = [];
  const seen = new Set<string>();
  const add = (text: string, kind: string) => {
    if (text.length < MIN_FORM || seen.has(text)) return;
    seen.add(text);
    forms.push({ text, kind });
  };
  for (const value of values) {
    if (value.length < MIN_SECRET) continue;
    const bytes = Buffer.from(value, 'utf8');
    add(value, 'raw');
    add(bytes.toString('hex'), 'hex');
    add(bytes.toString('hex').toUpperCase(), 'hex');
    for (let k = 0; k < 3; k++) {
      const padded = Buffer.concat([Buffer.alloc(k), bytes]);
      const b64 = padded.toString('base64').slice(Math.ceil((8 * k) / 6), Math.floor((8 * padded.length) / 6));
      add(b64, 'base64');
      add(b64.replace(/\+/g, '-').replace(/\//g, '_'), 'base64');
    }
    for (let k = 0; k < 5; k++) {
      const padded = Buffer.concat([Buffer.alloc(k), bytes]);
      const b32 = encodeBase32(padded).slice(Math.ceil((8 * k) / 5), Math.floor((8 * padded.length) / 5));
      add(b32, 'base32');
      add(b32.toLowerCase(), 'base32');
    }
  }
  return { forms };
}

// The encoding of the first route secret found in `text`, or undefined. Never returns the
// secret itself, so callers cannot accidentally log it.
export function findCanary(c: Canaries, text: string): string | undefined {
  for (const f of c.forms) if (text.includes(f.text)) return f.kind;
  return undefined;
}

export function isCanaries(x: unknown): x is Canaries {
  return typeof x === 'object' && x !== null && Array.isArray((x as Canaries).forms);
}
