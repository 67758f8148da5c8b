// metadata.json: what a bottle is, enough for any process to find, attach to and stop it.
import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { writeFileAtomic, withFileLock } from './atomic.js';
import { bottlePaths } from './paths.js';
import { isValidSlug } from './slug.js';

// 'fake' is recorded by the test backend (test/helpers/fake-backend.ts), which tests inject.
export type Backend = 'docker' | 'smolvm' | 'fake';
export const BACKENDS: readonly Backend[] = ['docker', 'smolvm', 'fake'];
export const METADATA_SCHEMA = 1;

// Engine/VM resources a bottle made, by name, so stop and cleanup can remove exactly those.
export interface BottleResources {
  containers?: string[];
  networks?: string[];
  volumes?: string[];
  /** smolvm machine name. */
  machine?: string;
  [other: string]: unknown;
}

// The persisted record of one bottle; unknown top-level keys are kept on rewrite.
export interface Metadata {
  schema: 1;
  slug: string;
  agent: string;
  backend: Backend;
  /** ISO 8601 creation time. */
  created: string;
  manifestPath?: string;
  claudeSessionId?: string;
  resources: BottleResources;
  /** Last known lifecycle step: claimed, launching, running, stopping, stopped, resuming. */
  state?: string;
  /** ISO 8601 time of the last stop. */
  stoppedAt?: string;
  /** Backend-specific fields (bundle IP, image id, ...), owned by the backend. */
  backendData?: Record<string, unknown>;
}

// Either a partial replacement of top-level keys, or a function of the current record.
export type MetadataPatch = Partial<Omit<Metadata, 'schema' | 'slug'>> | ((current: Metadata) => Metadata);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');

// Parses and checks metadata text; every problem is a UserError naming the file and the field.
export function parseMetadata(text: string, file: string): Metadata {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: corrupt metadata (not valid JSON: ${(e as Error).message}); fix the file or remove the bottle's state dir`);
  }
  const problem = metadataProblem(data);
  if (problem) throw new UserError(`${file}: invalid metadata: ${problem}; fix the file or remove the bottle's state dir`);
  return data as Metadata;
}

function metadataProblem(d: unknown): string | undefined {
  if (!isObject(d)) return 'expected a JSON object';
  if (typeof d.schema === 'number' && d.schema > METADATA_SCHEMA) {
    return `schema ${d.schema} was written by a newer bottle (this one reads schema ${METADATA_SCHEMA})`;
  }
  if (d.schema !== METADATA_SCHEMA) return `"schema" must be ${METADATA_SCHEMA}`;
  if (typeof d.slug !== 'string' || !isValidSlug(d.slug)) return '"slug" must be a valid slug';
  if (typeof d.agent !== 'string' || d.agent === '') return '"agent" must be a non-empty string';
  if (!BACKENDS.includes(d.backend as Backend)) return `"backend" must be one of ${BACKENDS.join(', ')}`;
  if (typeof d.created !== 'string' || Number.isNaN(Date.parse(d.created))) return '"created" must be an ISO date';
  for (const key of ['manifestPath', 'claudeSessionId', 'state', 'stoppedAt'] as const) {
    if (d[key] !== undefined && typeof d[key] !== 'string') return `"${key}" must be a string`;
  }
  if (!isObject(d.resources)) return '"resources" must be an object';
  for (const key of ['containers', 'networks', 'volumes'] as const) {
    if (d.resources[key] !== undefined && !isStringArray(d.resources[key])) return `"resources.${key}" must be a list of strings`;
  }
  if (d.resources.machine !== undefined && typeof d.resources.machine !== 'string') return '"resources.machine" must be a string';
  if (d.backendData !== undefined && !isObject(d.backendData)) return '"backendData" must be an object';
  return undefined;
}

export function serializeMetadata(m: Metadata): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

// Reads a bottle's metadata; a missing bottle or a broken file is a UserError naming the path.
export async function readMetadata(root: string, slug: string): Promise<Metadata> {
  const p = bottlePaths(root, slug);
  let text: string;
  try {
    text = await readFile(p.metadata, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(`no bottle ${slug} (no ${p.metadata}); run \`bottle ls\` to see existing bottles`);
    }
    throw e;
  }
  const m = parseMetadata(text, p.metadata);
  if (m.slug !== slug) throw new UserError(`${p.metadata}: invalid metadata: "slug" is ${m.slug}, expected ${slug}`);
  return m;
}

// Atomic whole-file write (temp + fsync + rename); validates first so nothing invalid lands.
export async function writeMetadata(root: string, m: Metadata): Promise<void> {
  const p = bottlePaths(root, m.slug);
  const text = serializeMetadata(m);
  parseMetadata(text, p.metadata);
  await writeFileAtomic(p.metadata, text, { mode: 0o600 });
}

// Read-modify-write under the bottle's metadata lock; returns the record as written.
export async function updateMetadata(root: string, slug: string, patch: MetadataPatch): Promise<Metadata> {
  const p = bottlePaths(root, slug);
  await readMetadata(root, slug); // a clear "no bottle" error before trying to lock in a missing dir
  return withFileLock(p.metadataLock, async () => {
    const current = await readMetadata(root, slug);
    const next = typeof patch === 'function' ? patch(structuredClone(current)) : { ...current, ...patch };
    if (next.slug !== slug || next.schema !== METADATA_SCHEMA) {
      throw new Error(`updateMetadata: a patch may not change slug or schema (${slug})`);
    }
    await writeMetadata(root, next);
    return next;
  });
}
