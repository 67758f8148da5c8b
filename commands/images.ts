// `bottle images build`: builds bottle-agent:latest and bottle-sidecars:latest on the Docker
// engine, skipping an image whose inputs have not changed; `bottle images push` copies them to
// another engine.
import type { Command } from 'commander';
import { connectDocker, probeEngine, resolveDockerEndpoint } from '../lib/docker/engine.js';
import { UserError } from '../lib/errors.js';
import { BOOTSTRAP_BASE, buildImages, formatSize, IMAGE_KINDS, IMAGES, type BuildReport, type ImageKind } from '../lib/images/index.js';
import { engineLabel, pushImages, targetEnv } from '../lib/images/push.js';
import { projectRoot } from '../lib/paths.js';
import { locateManifest, readManifest } from '../lib/manifest/index.js';
import { engineEnv, manifestEngine } from '../lib/plan/index.js';
import type { Ctx, Outcome } from '../lib/cli.js';

interface BuildFlags { caFile?: string; base?: string; only?: string; cache: boolean; pull: boolean; json?: boolean; engine?: string; manifest?: string }

// The env that selects the engine a manifest names (local: this shell's), for --engine.
function manifestEngineEnv(ctx: Ctx, name: string, manifest: string | undefined, flag: string): NodeJS.ProcessEnv {
  const loaded = readManifest(locateManifest({ flag: manifest, cwd: ctx.cwd, env: ctx.env }));
  return engineEnv(ctx.env, manifestEngine(loaded, name, ctx.env, flag));
}

// `--to`: a URL, an engine the manifest defines, else a docker context name.
export function pushTargetEnv(ctx: Pick<Ctx, 'env' | 'cwd'>, to: string, manifest: string | undefined): NodeJS.ProcessEnv {
  if (!to.includes('://')) {
    const loaded = readManifest(locateManifest({ flag: manifest, cwd: ctx.cwd, env: ctx.env }));
    if (loaded.manifest.engines && Object.hasOwn(loaded.manifest.engines, to)) return engineEnv(ctx.env, manifestEngine(loaded, to, ctx.env, '--to'));
  }
  return targetEnv(ctx.env, to);
}

// Adds `bottle images` and its `build` subcommand.
export function registerImages(program: Command, ctx: Ctx, outcome: Outcome): void {
  const images = program.command('images').description('build the agent and sidecar-bundle images, or copy them to another engine');
  images
    .command('build')
    .description('build bottle-agent:latest and bottle-sidecars:latest (unchanged inputs are skipped)')
    .option('--ca-file <file>', 'extra CA bundle (PEM) trusted during and after the build; default: NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, then npm cafile')
    .option('--base <image>', 'base image for both (default: node:22-bookworm-slim if local or pullable, else bottle-base:node22-bookworm, bootstrapped if missing; images already built on that one keep it without a pull)')
    .option('--only <image>', `build just one image: ${IMAGE_KINDS.join(' or ')}`)
    .option('--no-cache', 'rebuild even when the inputs are unchanged, without the layer cache, choosing the base anew')
    .option('--no-pull', `never pull the official base from a registry: use it if local, else bootstrap ${BOOTSTRAP_BASE}`)
    .option('--json', 'print {"images": [{name, id, base, seconds, skipped}]} at the end; progress goes to stderr')
    .option('--engine <name>', 'build on this engine: a name from the manifest\'s engines:, or local (the one this shell selects, the default)')
    .option('--manifest <file>', 'the manifest whose engines: --engine names (default: ./bottle.yaml, then $XDG_CONFIG_HOME/bottle/bottle.yaml)')
    .addHelpText('after', `
The build contexts are assembled in a temp dir: the Dockerfile, images/build-helper.sh,
build-ca.crt (the extra CA, or empty) and, for sidecars, package.json, bin/, the bundled
dist/ (in a checkout, npm run build runs first when it is missing or stale) and runtime
assets such as lib/secrets/gitleaks.toml. Without Docker Hub the base is bootstrapped
locally (debootstrap, as root, plus Node from the npm registry). The host's npm registry (npm config get registry)
is passed as a build arg. Each image is labelled dev.bottle.source=<hash of its inputs>.`)
    .action(async (flags: BuildFlags) => {
      const only = parseOnly(flags.only);
      const env = flags.engine === undefined ? ctx.env : manifestEngineEnv(ctx, flags.engine, flags.manifest, '--engine');
      const probe = await probeEngine({ env });
      if (!probe.ok) throw new UserError(`no Docker engine at ${probe.host}: ${probe.error}; ${flags.engine === undefined ? 'start dockerd or set DOCKER_HOST' : `start it, or fix engines.${flags.engine} in the manifest`}`);
      const log = flags.json ? ctx.err : ctx.out;
      const { docker } = connectDocker(env);
      const report = await buildImages(
        { only, caFile: flags.caFile, base: flags.base, noCache: !flags.cache, pull: flags.pull },
        { docker, run: ctx.run, env, cwd: ctx.cwd, root: projectRoot(), tty: ctx.isTTY, log },
      );
      log(summaryLine(report));
      if (flags.json) ctx.out(`${JSON.stringify(jsonReport(report), null, 2)}\n`);
    });

  images
    .command('push')
    .description('copy images from this engine to another one (a remote engine with no registry to pull from)')
    .argument('[image...]', `images to copy (default: ${IMAGES.agent.tag} and ${IMAGES.sidecars.tag})`)
    .option('--to <engine>', 'the engine to copy to: a URL (tcp://host:2376, ssh://user@host), a name from the manifest\'s engines:, or a docker context name')
    .option('--engine <engine>', 'the same as --to (as images build --engine and start --engine name an engine)')
    .option('--manifest <file>', 'the manifest whose engines: --to may name (default: ./bottle.yaml, then $XDG_CONFIG_HOME/bottle/bottle.yaml)')
    .option('--json', 'print {"images": [{name, id, pushed}], "bytes", "seconds"} at the end; progress goes to stderr')
    .addHelpText('after', `
The images are saved from the engine this shell selects (DOCKER_HOST, the docker context, or
this machine's socket) and loaded into the --to one, streamed through both engines' APIs. One
the target already has (same image id) is skipped. A tcp:// target uses this shell's
DOCKER_CERT_PATH and DOCKER_TLS_VERIFY.

Examples:
  bottle images push --to ssh://me@buildbox
  bottle images push --to buildbox        # an engine the manifest's engines: defines
  DOCKER_HOST=ssh://me@buildbox bottle start implementer`)
    .action(async (names: string[], flags: { to?: string; engine?: string; json?: boolean; manifest?: string }) => {
      const to = pushTarget(flags);
      const env = pushTargetEnv(ctx, to, flags.manifest);
      const where = { source: engineLabel(ctx.env), target: engineLabel(env) };
      if (resolveDockerEndpoint(env).host === resolveDockerEndpoint(ctx.env).host) {
        throw new UserError(`--to ${to} is the engine this shell already uses (${where.source}); point --to at another one`);
      }
      const log = flags.json ? ctx.err : ctx.out;
      const report = await pushImages(connectDocker(ctx.env).docker, connectDocker(env).docker, names.length ? names : [IMAGES.agent.tag, IMAGES.sidecars.tag], where, log);
      if (flags.json) ctx.out(`${JSON.stringify({ images: report.images.map(({ name, id, pushed }) => ({ name, id, pushed })), bytes: report.bytes, seconds: Math.round(report.seconds * 10) / 10 }, null, 2)}\n`);
    });
}

// The engine `images push` copies to: --to, or --engine (one of them, or both the same).
export function pushTarget(flags: { to?: string; engine?: string }): string {
  if (flags.to !== undefined && flags.engine !== undefined && flags.to !== flags.engine) {
    throw new UserError(`--to ${flags.to} and --engine ${flags.engine} name two engines; give one`);
  }
  const to = flags.to ?? flags.engine;
  if (to === undefined) throw new UserError('which engine? give --to ENGINE (a URL such as ssh://me@buildbox, a name from the manifest\'s engines:, or a docker context)');
  return to;
}

function parseOnly(value: string | undefined): ImageKind | undefined {
  if (value === undefined) return undefined;
  if ((IMAGE_KINDS as readonly string[]).includes(value)) return value as ImageKind;
  throw new UserError(`--only ${value}: expected ${IMAGE_KINDS.join(' or ')}`);
}

// The last line: what was built or skipped, on which base, in how long.
export function summaryLine(report: BuildReport): string {
  const parts = report.images.map((i) => `${i.name} ${i.skipped ? 'unchanged' : 'built'}${i.sizeBytes ? ` (${formatSize(i.sizeBytes)})` : ''}`);
  return `images: ${parts.join(', ')}; base ${report.base.image}; total ${report.seconds.toFixed(1)} s`;
}

// The `--json` document.
export function jsonReport(report: BuildReport): { images: { name: string; id: string; base: string; seconds: number; skipped: boolean }[] } {
  return {
    images: report.images.map((i) => ({ name: i.name, id: i.id, base: i.base, seconds: Math.round(i.seconds * 10) / 10, skipped: i.skipped })),
  };
}
