// Names of a Docker bottle's own engine objects: the agent container, its two networks and the
// route helper, beside the bundle names every backend shares (bundle/names.ts).
import { type BundleNames, bundleNames } from '../bundle/names.js';

// Engine object names of one bottle; derived from the slug alone, so any process finds them.
export interface DockerNames extends BundleNames {
  internalNetwork: string;
  externalNetwork: string;
  agent: string;
  /** Short-lived helper that deletes the agent's default route (see plan.ts). */
  routeHelper: string;
}

// The names of a bottle's engine objects.
export function dockerNames(slug: string): DockerNames {
  const { project, bundle } = bundleNames(slug);
  return {
    project,
    internalNetwork: `${project}-int`,
    externalNetwork: `${project}-ext`,
    bundle,
    agent: `${project}-agent`,
    routeHelper: `${project}-route`,
  };
}

export { BUNDLE_ALIASES } from '../bundle/names.js';
