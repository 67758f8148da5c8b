// Gate for tests that need a real Docker engine: run when reachable, skip visibly when not,
// and fail the run when BOTTLE_E2E=required (CI) and the engine is missing.
import Docker from 'dockerode';

export interface EngineGate { docker?: Docker; skip: string | false }

export async function engineGate(): Promise<EngineGate> {
  const docker = new Docker();
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('ping timed out after 3s')), 3000).unref()),
    ]);
    return { docker, skip: false };
  } catch (e) {
    const why = `no Docker engine reachable (${(e as Error).message})`;
    if (process.env.BOTTLE_E2E === 'required') {
      throw new Error(`${why}; BOTTLE_E2E=required makes this a failure — start dockerd or set DOCKER_HOST`);
    }
    return { skip: `${why}; set BOTTLE_E2E=required to make this fail` };
  }
}

// The images every bottle e2e needs (agent, sidecars).
export const E2E_IMAGES = ['bottle-agent:latest', 'bottle-sidecars:latest'] as const;

// Engine reachable and `images` built, or a visible skip (a failure under BOTTLE_E2E=required).
export async function imagesGate(images: readonly string[] = E2E_IMAGES): Promise<EngineGate> {
  const gate = await engineGate();
  if (gate.skip) return gate;
  for (const image of images) {
    try {
      await gate.docker!.getImage(image).inspect();
    } catch {
      const why = `${image} is not built; run \`npx tsx commands/main.ts images build\``;
      if (process.env.BOTTLE_E2E === 'required') throw new Error(why);
      return { skip: why };
    }
  }
  return gate;
}
