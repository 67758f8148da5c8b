// Bottle slugs: `<agent>-<6 base32 chars>`, safe as a directory name, docker name and label.
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.js';

// Injected in tests to force collisions; returns `size` random bytes.
export type RandomSource = (size: number) => Uint8Array;

export const defaultRandom: RandomSource = (size) => randomBytes(size);

// RFC 4648 base32, lowercased: 32 symbols, so `byte & 31` is uniform.
export const SLUG_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
export const SLUG_SUFFIX_LENGTH = 6;
const PREFIX_MAX = 40;
const SLUG_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

// The agent part of a slug: lowercase, runs of other characters folded to '-', bounded length.
export function slugPrefix(agent: string): string {
  const folded = agent
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+/, '')
    .slice(0, PREFIX_MAX)
    .replace(/[-_]+$/, '');
  return folded || 'agent';
}

// One candidate slug; uniqueness is the caller's job (see claimSlugDir in bottles.ts).
export function mintSlug(agent: string, random: RandomSource = defaultRandom): string {
  const bytes = random(SLUG_SUFFIX_LENGTH);
  if (bytes.length < SLUG_SUFFIX_LENGTH) throw new Error('random source returned too few bytes');
  let suffix = '';
  for (let i = 0; i < SLUG_SUFFIX_LENGTH; i++) suffix += SLUG_ALPHABET[bytes[i]! & 31];
  return `${slugPrefix(agent)}-${suffix}`;
}

export function isValidSlug(slug: string): boolean {
  return SLUG_RE.test(slug);
}

// Guards every slug that came from outside (argv, a file, a dir name): no '/', no '..'.
export function validateSlug(slug: string): string {
  if (!isValidSlug(slug)) {
    throw new UserError(
      `invalid bottle slug ${JSON.stringify(slug)}: use lowercase letters, digits, '-' and '_' ` +
        `(e.g. implementer-k3x7qa); run \`bottle ls\` to see existing bottles`,
    );
  }
  return slug;
}
