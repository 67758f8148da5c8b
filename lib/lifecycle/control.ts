// The reload/secrets channel of a bottle's running bundle, or the noop one with the reason.
import { noopControl, type ControlChoice } from '../proposals/control.js';
import { bottlePaths, type Metadata } from '../state/index.js';
import { backendOf, type LifecycleDeps } from './context.js';

export async function bundleControl(deps: LifecycleDeps, meta: Metadata): Promise<ControlChoice> {
  try {
    const backend = await backendOf(deps, meta);
    const state = (await backend.inspect([meta])).get(meta.slug);
    if (state === 'running' || state === 'partial') return { control: backend.control(meta, bottlePaths(deps.root, meta.slug)) };
    return { control: noopControl, warning: `${meta.slug}'s bundle is not running: the policy file is updated, the change applies when ${meta.slug} next starts` };
  } catch (e) {
    return { control: noopControl, warning: `cannot reach ${meta.backend} for ${meta.slug} (${(e as Error).message.split('\n')[0]}): the policy file is updated, the change applies when ${meta.slug} next starts` };
  }
}
