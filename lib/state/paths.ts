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
  /** Bundle events (daemon restarts, agent waiting/idle) as JSON lines, written by the bundle. */
  events: string;
  eventsFile: string;
  /** The bundle CA (ca.crt + ca.key 0600); mounted into the bundle only. */
  ca: string;
  /** The work saved at stop (claude sessions, git bundle + patch): lib/lifecycle/save.ts. */
  saved: string;
  /** What the bottle was started with (plan + agent definition, no secret): resume reuses it. */
  launchSpec: string;
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
    events: join(dir, 'events'),
    eventsFile: join(dir, 'events', 'events.jsonl'),
    ca: join(dir, 'ca'),
    saved: join(dir, 'saved'),
    launchSpec: join(dir, 'launch.json'),
  };
}

// Directories createBottle makes inside the bottle dir.
export function layoutDirs(p: BottlePaths): string[] {
  return [p.policy, p.superviseQueue, p.superviseDecisions, p.events];
}
