// Whether the Docker engine holds the images a bottle runs from (both backends take them from
// it), for `start --dry-run` and `doctor`; launch checks again and refuses. A probe: never throws.
import { DEFAULT_SIDECARS_IMAGE } from '../backends/bundle/names.js';
import { statusOf } from '../docker/api.js';
import { connectDocker } from '../docker/engine.js';
import { describeEngineError } from '../docker/unreachable.js';
import { DEFAULT_IMAGE } from '../manifest/index.js';
import { IMAGES } from './context.js';

// `missing` in the order asked; `checked: false` when the engine could not be asked (`why`
// names the endpoint and the reason).
export type ImagePresence = { checked: true; missing: string[] } | { checked: false; why: string };

// The images bottles of these agent images need: those and the sidecar bundle's, once each.
export function bottleImages(agentImages: readonly string[]): string[] {
  return [...new Set([...agentImages, DEFAULT_SIDECARS_IMAGE])];
}

// The images a bottle of this plan needs.
export function planImages(plan: { image: string }): string[] {
  return bottleImages([plan.image]);
}

// How to get a missing image: bottle's own are built by `bottle images build`, a manifest's own
// image is not (it is pulled or built by its owner).
export function missingImageFix(image: string): string {
  return Object.values(IMAGES).some((i) => i.tag === image)
    ? 'run `bottle images build`'
    : `build or pull it into this engine first (docker pull ${image}), or drop image: from the manifest to use ${DEFAULT_IMAGE}`;
}

// One line for a missing image, as launch words its refusal.
export function missingImageLine(image: string): string {
  return `image ${image} is not in the Docker engine; ${missingImageFix(image)}`;
}

// Inspects each image side by side (404: missing); any other failure, or no answer within
// timeoutMs, means the engine was not asked.
export async function imagePresence(env: NodeJS.ProcessEnv, images: readonly string[], timeoutMs = 3000): Promise<ImagePresence> {
  let timer: NodeJS.Timeout | undefined;
  let host = env.DOCKER_HOST ?? 'the Docker engine';
  try {
    const { docker, endpoint } = connectDocker(env, { timeout: timeoutMs + 1000 });
    host = endpoint.host;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const results = await Promise.race([Promise.allSettled(images.map((i) => docker.getImage(i).inspect())), timedOut]);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && statusOf(r.reason) !== 404);
    if (failure) return { checked: false, why: `${host}: ${describeEngineError(failure.reason)}` };
    return { checked: true, missing: images.filter((_, i) => results[i]!.status === 'rejected') };
  } catch (e) {
    return { checked: false, why: `${host}: ${describeEngineError(e)}` };
  } finally {
    clearTimeout(timer);
  }
}

// The dry run's lines: a warning with the fix per missing image, or why nothing was checked.
export function presenceLines(p: ImagePresence): string[] {
  if (!p.checked) return [`note: images not checked (${p.why})`];
  return p.missing.map((image) => `warning: ${missingImageLine(image)}`);
}
