// Creating, listing and removing bottle state dirs; safe when several processes do it at once.
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { type Backend, type BottleResources, type Metadata, METADATA_SCHEMA, readMetadata, writeMetadata } from './metadata.js';
import { type BottlePaths, bottlePaths, layoutDirs } from './paths.js';
import { defaultRandom, isValidSlug, mintSlug, type RandomSource } from './slug.js';

export interface CreateBottleOptions {
  backend: Backend;
  manifestPath?: string;
  claudeSessionId?: string;
  resources?: BottleResources;
  state?: string;
  backendData?: Record<string, unknown>;
  random?: RandomSource;
  now?: () => Date;
  /** Slug candidates tried before giving up (default 32). */
  maxAttempts?: number;
}

export interface CreatedBottle {
  slug: string;
  paths: BottlePaths;
  metadata: Metadata;
}

// Creates the state root (mode 0700) if needed, with an actionable error when it cannot.
export async function ensureStateRoot(root: string): Promise<void> {
  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : code ?? (e as Error).message;
    throw new UserError(`cannot create state dir ${root}: ${why}; set BOTTLE_STATE_DIR to a writable directory`);
  }
}

// Mints slugs until one's dir can be created. mkdir without `recursive` fails with EEXIST if
// the dir exists, so it is the atomic claim: two processes can never both get the same slug.
export async function claimSlugDir(root: string, agent: string, random: RandomSource = defaultRandom, maxAttempts = 32): Promise<string> {
  await ensureStateRoot(root);
  for (let i = 0; i < maxAttempts; i++) {
    const slug = mintSlug(agent, random);
    try {
      await mkdir(bottlePaths(root, slug).dir, { mode: 0o700 });
      return slug;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new UserError(`could not mint a unique slug for agent ${agent} after ${maxAttempts} attempts under ${root}`);
}

// A new bottle: claimed dir (0700), the §5 layout and metadata.json. Undone if any step fails.
export async function createBottle(root: string, agent: string, opts: CreateBottleOptions): Promise<CreatedBottle> {
  const slug = await claimSlugDir(root, agent, opts.random, opts.maxAttempts);
  const paths = bottlePaths(root, slug);
  const metadata: Metadata = {
    schema: METADATA_SCHEMA,
    slug,
    agent,
    backend: opts.backend,
    created: (opts.now?.() ?? new Date()).toISOString(),
    ...(opts.manifestPath !== undefined && { manifestPath: opts.manifestPath }),
    ...(opts.claudeSessionId !== undefined && { claudeSessionId: opts.claudeSessionId }),
    resources: opts.resources ?? {},
    ...(opts.state !== undefined && { state: opts.state }),
    ...(opts.backendData !== undefined && { backendData: opts.backendData }),
  };
  try {
    await chmod(paths.dir, 0o700); // in case the umask stripped bits we asked for
    for (const dir of layoutDirs(paths)) await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeMetadata(root, metadata);
  } catch (e) {
    await rm(paths.dir, { recursive: true, force: true });
    throw e;
  }
  return { slug, paths, metadata };
}

// One row of `listBottles`: a readable bottle, or a broken one reported instead of thrown.
export type BottleEntry =
  | { ok: true; slug: string; paths: BottlePaths; metadata: Metadata }
  | { ok: false; slug: string; paths: BottlePaths; error: string };

// Every bottle under root, sorted by slug. Skips stray files, dirs whose name is not a slug and
// dirs without metadata.json (e.g. mid-creation); a corrupt one comes back as { ok: false }.
export async function listBottles(root: string): Promise<BottleEntry[]> {
  let names: string[];
  try {
    names = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    // A root that is a file or unreadable is the user's to fix, not a bug in bottle.
    if (code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM') {
      throw new UserError(`state dir ${root} ${code === 'ENOTDIR' ? 'is not a directory' : 'cannot be read (permission denied)'}; set BOTTLE_STATE_DIR to a directory of yours, or move it out of the way`);
    }
    throw e;
  }
  const entries = await Promise.all(
    names.filter(isValidSlug).sort().map(async (slug): Promise<BottleEntry | undefined> => {
      const paths = bottlePaths(root, slug);
      if (!(await exists(paths.metadata))) return undefined;
      try {
        const metadata = await readMetadata(root, slug);
        return { ok: true, slug, paths, metadata };
      } catch (e) {
        if (await isGone(paths.dir)) return undefined; // removed while we looked
        return { ok: false, slug, paths, error: (e as Error).message };
      }
    }),
  );
  return entries.filter((e): e is BottleEntry => e !== undefined);
}

// Removes a bottle's state (a failed start, bottle rm, cleanup); false if it was not there.
export async function removeBottle(root: string, slug: string): Promise<boolean> {
  const p = bottlePaths(root, slug);
  if (await isGone(p.dir)) return false;
  await removeDir(root, slug, p.dir);
  return true;
}

// A bottle's state disappears at once: renamed out of the listing (a dot name is no slug),
// then deleted. Regression: a recursive delete in place let a concurrent `bottle ls` find the
// dir without its metadata and list the bottle as broken while it was being stopped.
async function removeDir(root: string, slug: string, dir: string): Promise<void> {
  const tomb = join(root, `.removing-${slug}-${randomBytes(4).toString('hex')}`);
  try {
    await rename(dir, tomb);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  await rm(tomb, { recursive: true, force: true });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

async function isGone(path: string): Promise<boolean> {
  return !(await exists(path));
}
