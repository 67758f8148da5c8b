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
