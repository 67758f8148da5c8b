#!/usr/bin/env node
// `npm run build` after the type check: bundles the entry points into dist/ with esbuild.
//
// Why a bundle and not tsc's one-file-per-module output: every process bottle starts pays its
// module loading before doing anything, and bring-up starts several (the CLI, then in the
// bundle container init, two gateways, git-gate, supervise). One file per entry plus shared
// chunks loads in about two thirds of the time (`bottle sidecar gateway --help`: 150 → 100 ms,
// `supervise`: 210 → 135 ms on a 2-core machine). Dynamic imports stay lazy (they become
// chunks), so each verb and each daemon still loads only its own code.
//
// dockerode loads its BuildKit session (gRPC, protobuf) and docker-modem its ssh transport
// (ssh2) at require time; bottle uses neither on the unix socket, and together they are about
// half of dockerode's load. Those two requires are made lazy (loaded on first call) and their
// dependencies stay in node_modules, loaded only then. blessed reads its terminfo files next to
// its own sources, so it stays in node_modules too.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist');

// Entry points, at the paths tsc would have emitted them (the sidecars image, the git hooks and
// bin/bottle.js name these paths).
const ENTRIES = ['commands/main.ts', 'sidecars/git-gate/hook-main.ts'];

// Loaded from node_modules at run time, never bundled.
const EXTERNAL = ['blessed', '@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'ssh2', 'cpu-features'];

// `require(spec)` from a file whose path ends with `importer` becomes a stub that requires the
// real module on its first call (both modules export a single function).
const LAZY = [
  { spec: './session', importer: '/dockerode/lib/docker.js' },
  { spec: './ssh', importer: '/docker-modem/lib/modem.js' },
];

const matched = new Set();
const lazyRequires = {
  name: 'lazy-requires',
  setup(b) {
    for (const rule of LAZY) {
      const { spec, importer } = rule;
      const filter = new RegExp(`^${spec.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
      b.onResolve({ filter }, (args) => {
        if (!args.importer.replaceAll('\\', '/').endsWith(importer)) return undefined;
        matched.add(rule);
        // Relative to the checkout, so dist/ does not depend on where it is.
        return { path: relative(root, join(dirname(args.importer), `${spec}.js`)), namespace: 'lazy' };
      });
    }
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({
      contents: `var real;\nmodule.exports = function () {\n  real = real || require(${JSON.stringify(`./${basename(args.path)}`)});\n  return real.apply(this, arguments);\n};\n`,
      resolveDir: dirname(join(root, args.path)),
      loader: 'js',
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ENTRIES,
  outdir,
  outbase: '.',
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  external: EXTERNAL,
  plugins: [lazyRequires],
  // Bundled CommonJS modules call require(); ESM output has none unless given one.
  banner: { js: "import { createRequire as __bottleRequire } from 'node:module';\nconst require = __bottleRequire(import.meta.url);" },
  logLevel: 'warning',
});

// A rule that matched nothing means dockerode's layout changed: fail the build rather than
// silently load gRPC and ssh2 again.
const missed = LAZY.filter((rule) => !matched.has(rule));
for (const rule of missed) {
  process.stderr.write(`build: no require('${rule.spec}') from ${rule.importer} was bundled; update LAZY in scripts/build.mjs\n`);
}
if (missed.length) process.exit(1);
