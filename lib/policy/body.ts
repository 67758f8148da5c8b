// body-dlp stage: every view of the body the upstream might read is scanned, never only a
// parsed one: the bytes as UTF-8 and in the declared charset, after undoing content codings,
// and the structure inside (every JSON string including duplicate keys, form pairs, each
// multipart part after its own codings). What cannot be parsed or decoded within the cap, or
// is too big, is blocked, never passed.
import { Candidates } from './candidates.js';
import { textViews, undoContentCodings, type DecodeBudget } from './content.js';
import { percentDecodeFully, printableRuns } from './decoders.js';
import type { HeaderList } from './headers.js';
import { forEachJsonToken } from './json.js';
import { block, type Verdict } from './types.js';

export interface ParsedBody { candidates: Candidates }

interface MediaType { type: string; params: Record<string, string> }

function parseMediaType(v: string | undefined): MediaType {
  if (!v) return { type: '', params: {} };
  const [type = '', ...rest] = v.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { type: type.trim().toLowerCase(), params };
}

// Repeated header values that say different things (case and spacing aside).
const conflicting = (values: readonly string[]) => new Set(values.map((v) => v.trim().toLowerCase())).size > 1;

const isJson = (t: string) => t === 'application/json' || t.endsWith('+json') || t === 'text/json';
const isForm = (t: string) => t === 'application/x-www-form-urlencoded';
const isMultipart = (t: string) => t.startsWith('multipart/');

// Decompressed content (all layers and parts together) may be this many times the body cap:
// compression ratios of ordinary JSON and text, while a decompression bomb stops at the cap.
const DECODED_FACTOR = 4;
// multipart inside multipart is parsed this deep; deeper parts are scanned as text.
const MAX_NESTING = 3;

// Checks size and encoding, parses the body and collects its DLP candidates; a Verdict means
// the body was refused before any scan.
export function parseBody(body: Uint8Array | string | undefined, entries: readonly HeaderList[], maxBytes: number): ParsedBody | Verdict {
  const c = new Candidates();
  if (body === undefined || body.length === 0) return { candidates: c };
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.length);
  if (bytes.length > maxBytes) return block('body-dlp', `body is ${bytes.length} bytes (limit ${maxBytes}); too big to scan`, 'body-too-large');
  const types = entries.filter((e) => e.lname === 'content-type').map((e) => e.value);
  // Which one an upstream obeys is its choice; the body would be scanned as the other.
  if (conflicting(types)) return block('body-dlp', 'body has conflicting Content-Type headers', 'ambiguous-content-type');
  const codings = entries.filter((e) => e.lname === 'content-encoding').map((e) => e.value);
  const cap = maxBytes * DECODED_FACTOR;
  const err = addEncoded(c, bytes, codings, parseMediaType(types[0]), 'body', 0, { cap, left: cap }, typeof body === 'string' ? body : undefined);
  return err ?? { candidates: c };
}

// Content codings undone, then the decoded bytes' views. A compressed body's own bytes are
// scanned too (their printable runs: a stored deflate block or trailing bytes after the
// compressed stream are plain text to whoever reads them raw).
// `text`: the bytes as a string, when the caller was handed one (saves a decode).
function addEncoded(c: Candidates, bytes: Buffer, codings: readonly string[], media: MediaType, where: string, depth: number, budget: DecodeBudget, text?: string): Verdict | undefined {
  const decoded = undoContentCodings(bytes, codings, budget, where);
  if ('verdict' in decoded) return decoded;
  if (decoded === bytes) return addBytes(c, bytes, media, where, depth, budget, text);
  const runs = printableRuns(bytes);
  if (runs) c.add(`compressed ${where}`, runs);
  return addBytes(c, decoded, media, `decompressed ${where}`, depth, budget);
}

function addBytes(c: Candidates, bytes: Buffer, media: MediaType, where: string, depth: number, budget: DecodeBudget, text?: string): Verdict | undefined {
  if (isMultipart(media.type) && depth < MAX_NESTING) return addMultipart(c, bytes, media, where, depth, budget);
  const views = textViews(bytes, media.params.charset, where, text);
  if ('verdict' in views) return views;
  for (const u of views.utf16 ?? []) c.add(`UTF-16 ${where}`, u);
  if (views.declared === undefined) return addTyped(c, views.utf8, media, where);
  // The declared reading must parse as its type; the UTF-8 reading (what a server ignoring the
  // charset reads) is parsed when it does, else scanned as text.
  const err = addTyped(c, views.declared, media, `${media.params.charset} ${where}`);
  if (err) return err;
  if (addTyped(c, views.utf8, media, where)) c.addDecoded(where, views.utf8, { strip: false });
  return undefined;
}

function addTyped(c: Candidates, text: string, media: MediaType, where: string): Verdict | undefined {
  if (isJson(media.type)) return addJson(c, text, where);
  if (isForm(media.type)) return addForm(c, text, where);
  c.addDecoded(where, text, { strip: false });
  return undefined;
}

// JSON: every key and string value in the text, duplicate keys included (a parser keeps one
// value of a repeated key, the upstream may keep another), and every long number (a card
// number). A string value is scanned as `key: value` so context-dependent patterns still see
// the key.
function addJson(c: Candidates, text: string, where: string): Verdict | undefined {
  if (text.trim() === '') return undefined;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    JSON.parse(src);
  } catch {
    return block('body-dlp', `${where} claims JSON but does not parse`, 'unparseable-json');
  }
  forEachJsonToken(src, (kind, value, key) => {
    if (kind === 'key') c.addDecoded(`JSON key in ${where}`, value, { strip: false });
    else if (kind === 'string') c.addDecoded(`JSON value in ${where}`, value, { strip: false, prefix: key ? `${key}: ` : '' });
    else c.add(`JSON value in ${where}`, key ? `${key}: ${value}` : value);
  });
  return undefined;
}

// application/x-www-form-urlencoded: `k=v&...`; malformed %-escapes mean it does not parse.
function addForm(c: Candidates, text: string, where: string): Verdict | undefined {
  if (/%(?![0-9a-fA-F]{2})/.test(text)) return block('body-dlp', `${where} claims a form but has malformed %-escapes`, 'unparseable-form');
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const k = percentDecodeFully(eq < 0 ? pair : pair.slice(0, eq));
    const v = percentDecodeFully(eq < 0 ? '' : pair.slice(eq + 1));
    c.addDecoded(`form key in ${where}`, k);
    if (v) c.addDecoded(`form value in ${where}`, v, { prefix: `${k}=` });
  }
  return undefined;
}

// multipart/*: each part's headers and content, after its own Content-Encoding and
// Content-Transfer-Encoding (base64, quoted-printable), read in its own charset and type.
// Parsed on the bytes (latin1 keeps them 1:1), so a binary part is decoded exactly. Requires
// the closing delimiter: a truncated body does not parse.
function addMultipart(c: Candidates, bytes: Buffer, media: MediaType, where: string, depth: number, budget: DecodeBudget): Verdict | undefined {
  const fail = (why: string) => block('body-dlp', `multipart ${where} does not parse (${why})`, 'unparseable-multipart');
  const boundary = media.params.boundary;
  if (!boundary) return fail('no boundary');
  const text = bytes.toString('latin1');
  const delim = `--${boundary}`;
  let pos = text.indexOf(delim);
  if (pos < 0) return fail('no delimiter');
  if (pos > 0) c.addDecoded(`multipart preamble in ${where}`, utf8(text.slice(0, pos)), { strip: false });
  for (;;) {
    pos += delim.length;
    if (text.startsWith('--', pos)) {
      const epilogue = utf8(text.slice(pos + 2));
      if (epilogue.trim()) c.addDecoded(`multipart epilogue in ${where}`, epilogue, { strip: false });
      return undefined;
    }
    const next = findDelimiter(text, delim, pos);
    if (next < 0) return fail('missing closing delimiter');
    const part = text.slice(pos, next).replace(/^[ \t]*\r?\n/, '').replace(/\r$/, '');
    const err = addPart(c, part, where, depth, budget);
    if (err) return err;
    pos = next + 1;
  }
}

const utf8 = (latin1: string) => Buffer.from(latin1, 'latin1').toString('utf8');

// The next `\n--boundary` that is a real delimiter line: followed by `--`, whitespace or EOL
// (RFC 2046), not merely a content line that starts with the boundary text.
function findDelimiter(text: string, delim: string, from: number): number {
  for (let i = text.indexOf(`\n${delim}`, from); i >= 0; i = text.indexOf(`\n${delim}`, i + 1)) {
    const after = text.slice(i + 1 + delim.length, i + 3 + delim.length);
    if (after === '--' || after === '' || /^[ \t\r\n]/.test(after)) return i;
  }
  return -1;
}

// One part (as latin1 text of its bytes): headers, then content after its transfer encoding
// and content codings. The content as sent is scanned too when a transfer encoding changed it.
function addPart(c: Candidates, part: string, where: string, depth: number, budget: DecodeBudget): Verdict | undefined {
  const sep = /\r?\n\r?\n/.exec(part);
  const head = sep ? part.slice(0, sep.index) : '';
  const content = sep ? part.slice(sep.index + sep[0].length) : part;
  const headers = new Map<string, string[]>();
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      const name = line.slice(0, colon).trim().toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
    }
  }
  if (head) c.add(`multipart part headers in ${where}`, utf8(head));
  const types = headers.get('content-type') ?? [];
  if (conflicting(types)) return block('body-dlp', `a multipart part in ${where} has conflicting Content-Type headers`, 'ambiguous-content-type');
  const cte = (headers.get('content-transfer-encoding') ?? []).map((v) => v.trim().toLowerCase());
  if (conflicting(cte)) return block('body-dlp', `a multipart part in ${where} has conflicting Content-Transfer-Encoding headers`, 'ambiguous-content-type');
  const label = `multipart part in ${where}`;
  const transfer = cte[0] === 'base64' || cte[0] === 'quoted-printable' ? cte[0] : undefined;
  const bytes: Buffer = transfer === 'base64' ? Buffer.from(content.replace(/\s+/g, ''), 'base64')
    : transfer === 'quoted-printable' ? quotedPrintableBytes(content) : Buffer.from(content, 'latin1');
  if (transfer) c.addDecoded(label, utf8(content), { strip: false });
  return addEncoded(c, bytes, headers.get('content-encoding') ?? [], parseMediaType(types[0]), transfer ? `${transfer} ${label}` : label, depth + 1, budget);
}

// Quoted-printable (RFC 2045) to bytes: soft line breaks joined, `=XX` decoded.
function quotedPrintableBytes(s: string): Buffer {
  const soft = s.replace(/=\r?\n/g, '');
  const parts = soft.split(/(=[0-9A-Fa-f]{2})/);
  return Buffer.concat(parts.map((p, i) => (i % 2 === 1 ? Buffer.from([parseInt(p.slice(1), 16)]) : Buffer.from(p, 'latin1'))));
}
