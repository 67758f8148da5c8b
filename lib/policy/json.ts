// Walks over the text of a JSON document that JSON.parse accepted: the one JSON tokenizer the
// policy uses. It sees what JSON.parse hides: every key and string as written, duplicate keys
// included (JSON.parse keeps only the last value of a repeated key; another parser upstream may
// keep the first). Iterative, so deep nesting cannot overflow the stack; strings are found with
// indexOf, so long values cost little.

// What walkJson reports. A string is the span of its source text, from its opening quote to
// its closing one, so a caller decodes (jsonStringAt) only the strings it needs.
export interface JsonVisitor {
  open(object: boolean): void;
  close(): void;
  string(start: number, end: number, isKey: boolean): void;
  // Optional: a walk that never asks for numbers skips them unread.
  number?(start: number, end: number): void;
}

// Reports the tokens of `src` (valid JSON) in document order.
export function walkJson(src: string, v: JsonVisitor): void {
  const objects: boolean[] = []; // for each open container: is it an object
  const number = v.number?.bind(v);
  let expectKey = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src.charCodeAt(i);
    if (ch === 0x22) {
      const end = closingQuote(src, i);
      v.string(i, end, expectKey);
      expectKey = false;
      i = end;
    } else if (ch === 0x7b || ch === 0x5b) { // { [
      objects.push(ch === 0x7b);
      expectKey = ch === 0x7b;
      v.open(ch === 0x7b);
    } else if (ch === 0x7d || ch === 0x5d) { // } ]
      objects.pop();
      v.close();
    } else if (ch === 0x2c) { // ,
      expectKey = objects[objects.length - 1] === true;
    } else if ((ch === 0x2d || (ch >= 0x30 && ch <= 0x39)) && number) {
      let end = i + 1;
      while (end < src.length && /[0-9eE.+-]/.test(src[end]!)) end++;
      number(i, end);
      i = end - 1;
    }
  }
}

// The string whose quotes walkJson reported at `start` and `end`, escapes undone.
export function jsonStringAt(src: string, start: number, end: number): string {
  const raw = src.slice(start + 1, end);
  return raw.includes('\\') ? (JSON.parse(src.slice(start, end + 1)) as string) : raw;
}

export type JsonToken = 'key' | 'string' | 'number';

// Numbers shorter than this carry no secret (the shortest card number has 13 digits).
const MIN_NUMBER = 8;

// Calls `emit` for each key, string and long number in document order with the key it belongs
// to (array elements belong to the array's key). `src` must be valid JSON.
export function forEachJsonToken(src: string, emit: (kind: JsonToken, value: string, key: string) => void): void {
  const keys: string[] = []; // for each open container: the key it sits under
  let key = '';
  walkJson(src, {
    open(object) {
      keys.push(key);
      if (object) key = '';
    },
    close() {
      key = keys.pop() ?? '';
    },
    string(start, end, isKey) {
      const value = jsonStringAt(src, start, end);
      if (isKey) {
        emit('key', value, key);
        key = value;
      } else emit('string', value, key);
    },
    number(start, end) {
      if (end - start >= MIN_NUMBER) emit('number', src.slice(start, end), key);
    },
  });
}

// Whether any object in `src` (valid JSON) has the same key twice, escapes undone (`"\u0061"`
// is `"a"`). Only keys are decoded, so long string values cost only the search for their end.
export function hasDuplicateKey(src: string): boolean {
  const open: Array<Set<string> | undefined> = []; // an object's keys so far; undefined: an array
  let duplicate = false;
  walkJson(src, {
    open(object) {
      open.push(object ? new Set() : undefined);
    },
    close() {
      open.pop();
    },
    string(start, end, isKey) {
      if (!isKey || duplicate) return;
      const key = jsonStringAt(src, start, end);
      const seen = open[open.length - 1]!;
      if (seen.has(key)) duplicate = true;
      else seen.add(key);
    },
  });
  return duplicate;
}

// The index of the quote closing the string that opens at `start` (one not escaped by an odd
// run of backslashes).
function closingQuote(src: string, start: number): number {
  for (let q = src.indexOf('"', start + 1); ; q = src.indexOf('"', q + 1)) {
    let b = q - 1;
    while (src.charCodeAt(b) === 0x5c) b--;
    if ((q - 1 - b) % 2 === 0) return q;
  }
}
