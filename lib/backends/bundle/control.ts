// BundleControl for the bundle container, which both backends run on Docker: reload = SIGHUP to
// the bundle (init forwards it to the gateway); new route secrets = an exec in the bundle whose
// API Env carries the values, running `bottle sidecar gateway-secrets NAME...`, which hands them
// to the gateway.
import { type DockerEngine, engineMessage, execIn, statusOf } from '../../docker/api.js';
import { UserError } from '../../errors.js';
import type { BundleControl } from '../../proposals/control.js';
import { BUNDLE_PATHS, bundleNames } from './names.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function bundleProblem(e: unknown, name: string): Error {
  if (statusOf(e) === 404) return new Error(`the bundle container ${name} does not exist`);
  if (statusOf(e) === 409) return new Error(`the bundle container ${name} is not running`);
  return new Error(`${name}: ${engineMessage(e)}`, { cause: e });
}

// The argv the exec runs; names only (values are in the exec's Env).
export function gatewaySecretsArgv(names: string[]): string[] {
  return ['node', BUNDLE_PATHS.app, 'sidecar', 'gateway-secrets', ...names];
}

// `backend` names the control in messages; `engine` is a thunk, so building a control does not
// connect.
export function containerControl(backend: string, engine: () => DockerEngine): BundleControl {
  return {
    name: backend,
    live: true,
    async reload(slug: string): Promise<void> {
      const name = bundleNames(slug).bundle;
      try {
        await engine().getContainer(name).kill({ signal: 'HUP' });
      } catch (e) {
        throw bundleProblem(e, name);
      }
    },
    async provideSecrets(slug: string, names: string[], env: NodeJS.ProcessEnv): Promise<void> {
      if (names.length === 0) return;
      const bad = names.find((n) => !ENV_NAME.test(n));
      if (bad) throw new UserError(`${JSON.stringify(bad)} is not an environment variable name`);
      const missing = names.filter((n) => !env[n]);
      if (missing.length > 0) {
        throw new UserError(`host environment ${missing.length > 1 ? 'variables' : 'variable'} ${missing.join(', ')} not set; export ${missing.length > 1 ? 'them' : 'it'} and retry`);
      }
      const name = bundleNames(slug).bundle;
      let r;
      try {
        // User '' = the container's own user, the one the gateway runs as.
        r = await execIn(engine().getContainer(name), gatewaySecretsArgv(names), { user: '', env: names.map((n) => `${n}=${env[n]}`) });
      } catch (e) {
        throw bundleProblem(e, name);
      }
      if (r.exitCode !== 0) {
        const detail = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ');
        throw new Error(`handing ${names.join(', ')} to ${name}'s gateway failed (exit ${r.exitCode})${detail ? `: ${detail}` : ''}`);
      }
    },
  };
}
