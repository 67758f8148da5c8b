// The files and directories of one bottle's state (SPEC §5), in one place.
import { join } from 'node:path';
import { validateSlug } from './slug.js';

export interface BottlePaths {
  dir: string;
  metadata: string;
  /** Held while metadata.json is read-modified-written. */
  metadataLock: string;
  bringupLog: string;
  teardownLog: string;
  /** Allowlist + routes the gateway reads (bind-mounted as a directory). */
  policy: string;
  superviseQueue: string;
  superviseDecisions: string;
  /** Claude transcript snapshot taken at stop. */
  transcript: string;
  /** Present → settle keeps the state dir. */
  preserve: string;
}

// Validates the slug, so a path built here can never escape the state root.
export function bottlePaths(root: string, slug: string): BottlePaths {
  const dir = join(root, validateSlug(slug));
  return {
    dir,
    metadata: join(dir, 'metadata.json'),
    metadataLock: join(dir, 'metadata.json.lock'),
    bringupLog: join(dir, 'bringup.log'),
    teardownLog: join(dir, 'teardown.log'),
    policy: join(dir, 'policy'),
    superviseQueue: join(dir, 'supervise', 'queue'),
    superviseDecisions: join(dir, 'supervise', 'decisions'),
    transcript: join(dir, 'transcript'),
    preserve: join(dir, 'preserve'),
  };
}

// Directories createBottle makes inside the bottle dir.
export function layoutDirs(p: BottlePaths): string[] {
  return [p.policy, p.superviseQueue, p.superviseDecisions, p.transcript];
}
