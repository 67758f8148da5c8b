// body-dlp stage: parse the body the way the upstream will (JSON, form, multipart, text) and
// hand every string to DLP. What cannot be parsed or is too big is blocked, never passed.
import { Candidates } from './candidates.js';
import { percentDecodeRepeated } from './decoders.js';
import { headerValue, type HeaderList } from './headers.js';
import { block, type Verdict } from './types.js';

const UTF8 = new TextDecoder('utf-8', { fatal: false });

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

const isJson = (t: string) => t === 'application/json' || t.endsWith('+json') || t === 'text/json';
const isForm = (t: string) => t === 'application/x-www-form-urlencoded';
const isMultipart = (t: string) => t.startsWith('multipart/');

// Checks size and encoding, parses the body and collects its DLP candidates; a Verdict means
// the body was refused before any scan.
export function parseBody(body: Uint8Array | string | undefined, entries: readonly HeaderList[], maxBytes: number): ParsedBody | Verdict {
  const c = new Candidates();
  if (body === undefined || body.length === 0) return { candidates: c };
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > maxBytes) return block('body-dlp', `body is ${size} bytes (limit ${maxBytes}); too big to scan`, 'body-too-large');
  const enc = headerValue(entries, 'content-encoding');
  if (enc && enc.split(',').some((e) => e.trim().toLowerCase() !== 'identity' && e.trim() !== '')) {
    return block('body-dlp', `compressed request body (${enc.trim()}) cannot be scanned`, 'compressed-body');
  }
  const media = parseMediaType(headerValue(entries, 'content-type'));
  const text = typeof body === 'string' ? body : decodeText(body, media.params.charset, c);
  const err = addTyped(c, text, media, 'body', 0);
  return err ?? { candidates: c };
}

// Bytes as text in the declared charset (UTF-8 otherwise). Bytes that look like UTF-16
// (many NULs) also get UTF-16 readings as raw candidates: an undeclared UTF-16 body would
// otherwise hide every pattern behind interleaved NULs.
function decodeText(body: Uint8Array, charset: string | undefined, c: Candidates): string {
  const cs = charset?.toLowerCase();
  if (cs === 'utf-16' || cs === 'utf-16le' || cs === 'utf-16be') {
    const be = cs === 'utf-16be' || (cs === 'utf-16' && body[0] === 0xfe && body[1] === 0xff);
    return new TextDecoder(be ? 'utf-16be' : 'utf-16le').decode(body);
  }
  let nuls = 0;
  for (let i = 0; i < body.length; i++) if (body[i] === 0) nuls++;
  if (body.length >= 16 && nuls >= body.length / 4) {
    c.add('UTF-16 body', new TextDecoder('utf-16le').decode(body));
    c.add('UTF-16 body', new TextDecoder('utf-16be').decode(body));
  }
  return UTF8.decode(body);
}

function addTyped(c: Candidates, text: string, media: MediaType, where: string, depth: number): Verdict | undefined {
  if (isJson(media.type)) return addJson(c, text, where);
  if (isForm(media.type)) return addForm(c, text, where);
  if (isMultipart(media.type) && depth === 0) return addMultipart(c, text, media, where);
  c.addDecoded(where, text, { strip: false });
  return undefined;
}

// JSON: every key and string value, recursively (iteratively: no stack overflow on deep input).
// A string value is scanned as `key: value` so context-dependent patterns still see the key.
function addJson(c: Candidates, text: string, where: string): Verdict | undefined {
  if (text.trim() === '') return undefined;
  let root: unknown;
  try {
    root = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return block('body-dlp', `${where} claims JSON but does not parse`, 'unparseable-json');
  }
  const stack: Array<[unknown, string]> = [[root, '']];
  while (stack.length > 0) {
    const [node, key] = stack.pop()!;
    if (typeof node === 'string') {
      c.addDecoded(`JSON value in ${where}`, node, { strip: false, prefix: key ? `${key}: ` : '' });
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], key]);
    } else if (node !== null && typeof node === 'object') {
      const entries = Object.entries(node as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, v] = entries[i]!;
        c.addDecoded(`JSON key in ${where}`, k, { strip: false });
        stack.push([v, k]);
      }
    }
  }
  return undefined;
}

// application/x-www-form-urlencoded: `k=v&...`; malformed %-escapes mean it does not parse.
function addForm(c: Candidates, text: string, where: string): Verdict | undefined {
  if (/%(?![0-9a-fA-F]{2})/.test(text)) return block('body-dlp', `${where} claims a form but has malformed %-escapes`, 'unparseable-form');
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const k = percentDecodeRepeated(eq < 0 ? pair : pair.slice(0, eq));
    const v = percentDecodeRepeated(eq < 0 ? '' : pair.slice(eq + 1));
    c.addDecoded(`form key in ${where}`, k);
    if (v) c.addDecoded(`form value in ${where}`, v, { prefix: `${k}=` });
  }
  return undefined;
}

// multipart/*: each part's headers and content, after its Content-Transfer-Encoding (base64,
// quoted-printable); a part's own JSON/form content type is honoured. Requires the closing
// delimiter: a truncated body does not parse.
function addMultipart(c: Candidates, text: string, media: MediaType, where: string): Verdict | undefined {
  const fail = (why: string) => block('body-dlp', `multipart ${where} does not parse (${why})`, 'unparseable-multipart');
  const boundary = media.params.boundary;
  if (!boundary) return fail('no boundary');
  const delim = `--${boundary}`;
  let pos = text.indexOf(delim);
  if (pos < 0) return fail('no delimiter');
  if (pos > 0) c.addDecoded(`multipart preamble in ${where}`, text.slice(0, pos), { strip: false });
  for (;;) {
    pos += delim.length;
    if (text.startsWith('--', pos)) {
      const epilogue = text.slice(pos + 2);
      if (epilogue.trim()) c.addDecoded(`multipart epilogue in ${where}`, epilogue, { strip: false });
      return undefined;
    }
    const next = findDelimiter(text, delim, pos);
    if (next < 0) return fail('missing closing delimiter');
    const part = text.slice(pos, next).replace(/^[ \t]*\r?\n/, '').replace(/\r$/, '');
    const err = addPart(c, part, where);
    if (err) return err;
    pos = next + 1;
  }
}

// The next `\n--boundary` that is a real delimiter line: followed by `--`, whitespace or EOL
// (RFC 2046), not merely a content line that starts with the boundary text.
function findDelimiter(text: string, delim: string, from: number): number {
  for (let i = text.indexOf(`\n${delim}`, from); i >= 0; i = text.indexOf(`\n${delim}`, i + 1)) {
    const after = text.slice(i + 1 + delim.length, i + 3 + delim.length);
    if (after === '--' || after === '' || /^[ \t\r\n]/.test(after)) return i;
  }
  return -1;
}

function addPart(c: Candidates, part: string, where: string): Verdict | undefined {
  const sep = /\r?\n\r?\n/.exec(part);
  const head = sep ? part.slice(0, sep.index) : '';
  const content = sep ? part.slice(sep.index + sep[0].length) : part;
  const headers = new Map<string, string>();
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  if (head) c.add(`multipart part headers in ${where}`, head);
  const ce = headers.get('content-encoding');
  if (ce && ce.toLowerCase() !== 'identity') return block('body-dlp', `compressed multipart part (${ce}) cannot be scanned`, 'compressed-body');
  const cte = (headers.get('content-transfer-encoding') ?? '').toLowerCase();
  let decoded = content;
  let label = `multipart part in ${where}`;
  if (cte === 'base64') {
    decoded = UTF8.decode(Buffer.from(content.replace(/\s+/g, ''), 'base64'));
    label = `base64 ${label}`;
  } else if (cte === 'quoted-printable') {
    decoded = decodeQuotedPrintable(content);
    label = `quoted-printable ${label}`;
  }
  if (decoded !== content) c.addDecoded(`multipart part in ${where}`, content, { strip: false });
  return addTyped(c, decoded, parseMediaType(headers.get('content-type')), label, 1);
}

export function decodeQuotedPrintable(s: string): string {
  const soft = s.replace(/=\r?\n/g, '');
  const parts = soft.split(/(=[0-9A-Fa-f]{2})/);
  const bytes = parts.map((p, i) => (i % 2 === 1 ? Buffer.from([parseInt(p.slice(1), 16)]) : Buffer.from(p, 'utf8')));
  return UTF8.decode(Buffer.concat(bytes));
}
