// A typed cursor over the YAML node tree: each getter validates one node, records its
// position, and reports problems at that node instead of throwing.
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { closest } from './syntax.js';
import type { ManifestIssue, Position } from './types.js';

// A value at a key path; `node` is null when the key has no value (`prompt:`).
export interface Val {
  node: Node | null;
  path: string;
  /** The key that introduced this value, used for position when the value is empty. */
  keyNode?: Node;
}

export interface Entry { key: string; keyNode: Node; val: Val }

// Collects every issue instead of stopping at the first, so `manifest check` lists them all.
export class Walker {
  readonly issues: ManifestIssue[] = [];
  readonly positions = new Map<string, Position>();

  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  root(): Val {
    return { node: this.deref(this.doc.contents as Node | null), path: '' };
  }

  at(offset: number): Position {
    const p = this.lines.linePos(offset);
    return { line: p.line, col: p.col };
  }

  // An empty value (`prompt:`) has no useful position of its own; point at its key.
  where(v: Val): Position {
    const node = isEmpty(v) && v.keyNode ? v.keyNode : v.node;
    return this.at(node?.range?.[0] ?? 0);
  }

  fail(v: Val, message: string, node?: Node): void {
    const p = node?.range ? this.at(node.range[0]) : this.where(v);
    this.issues.push({ file: this.file, line: p.line, col: p.col, path: v.path, message });
  }

  failAt(offset: number, message: string): void {
    const p = this.at(offset);
    this.issues.push({ file: this.file, line: p.line, col: p.col, path: '', message });
  }

  private visit(v: Val): void {
    if (v.path && !this.positions.has(v.path)) this.positions.set(v.path, this.where(v));
  }

  private deref(node: Node | null | undefined): Node | null {
    if (node && isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return node ?? null;
  }

  // Entries of a mapping; reports non-mappings and keys that are not plain scalars.
  entries(v: Val): Entry[] | undefined {
    this.visit(v);
    if (!v.node || !isMap(v.node)) {
      this.fail(v, `expected a mapping, got ${kindOf(v.node)}`);
      return undefined;
    }
    const out: Entry[] = [];
    for (const pair of v.node.items) {
      const keyNode = this.deref(pair.key as Node | null);
      if (!keyNode || !isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        this.fail(v, 'expected a plain key', keyNode ?? undefined);
        continue;
      }
      const key = String(keyNode.value);
      const path = v.path ? `${v.path}.${key}` : key;
      out.push({ key, keyNode, val: { node: this.deref(pair.value as Node | null), path, keyNode } });
    }
    return out;
  }

  // A mapping with a fixed key set: unknown keys are reported at the key.
  fields<K extends string>(v: Val, allowed: readonly K[]): Partial<Record<K, Val>> | undefined {
    const list = this.entries(v);
    if (!list) return undefined;
    const out: Partial<Record<K, Val>> = {};
    for (const e of list) {
      if ((allowed as readonly string[]).includes(e.key)) {
        out[e.key as K] = e.val;
        continue;
      }
      const guess = closest(e.key, allowed);
      const hint = guess ? `did you mean ${guess}?` : `expected one of: ${allowed.join(', ')}`;
      this.fail(e.val, `unknown key; ${hint}`, e.keyNode);
    }
    return out;
  }

  list(v: Val): Val[] | undefined {
    this.visit(v);
    if (!v.node || !isSeq(v.node)) {
      this.fail(v, `expected a list, got ${kindOf(v.node)}`);
      return undefined;
    }
    return v.node.items.map((item, i) => ({ node: this.deref(item as Node | null), path: `${v.path}[${i}]` }));
  }

  str(v: Val, what = 'a string'): string | undefined {
    this.visit(v);
    if (v.node && isScalar(v.node) && typeof v.node.value === 'string') {
      if (v.node.value.trim() !== '') return v.node.value;
      this.fail(v, `expected ${what}, got an empty string`);
      return undefined;
    }
    this.fail(v, `expected ${what}, got ${kindOf(v.node)}`);
    return undefined;
  }

  bool(v: Val): boolean | undefined {
    this.visit(v);
    if (v.node && isScalar(v.node) && typeof v.node.value === 'boolean') return v.node.value;
    this.fail(v, `expected true or false, got ${kindOf(v.node)}`);
    return undefined;
  }

  int(v: Val, what = 'an integer'): number | undefined {
    this.visit(v);
    if (v.node && isScalar(v.node) && typeof v.node.value === 'number' && Number.isInteger(v.node.value)) return v.node.value;
    this.fail(v, `expected ${what}, got ${kindOf(v.node)}`);
    return undefined;
  }

  // A string, number or boolean scalar, as its source text (so `1.50` stays `1.50`).
  scalarText(v: Val): string | undefined {
    this.visit(v);
    if (v.node && isScalar(v.node)) {
      const value = v.node.value;
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return v.node.source ?? String(value);
    }
    this.fail(v, `expected a string, number or boolean, got ${kindOf(v.node)}`);
    return undefined;
  }

  lineOf(v: Val): number {
    return this.where(v).line;
  }
}

// True for a missing value and for an explicit null (`key:`, `key: ~`).
export function isEmpty(v: Val): boolean {
  return !v.node || (isScalar(v.node) && v.node.value === null);
}

// How a node reads to a user, for "expected X, got Y".
export function kindOf(node: Node | null): string {
  if (!node) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'nothing';
    if (typeof v === 'number') return `a number (${node.source ?? String(v)})`;
    if (typeof v === 'boolean') return `${String(v)}`;
    if (typeof v === 'string') return 'a string';
  }
  return 'an unsupported value';
}
