// `bottle` on the fake backend, for tests that drive the product without an engine: the very
// CLI of commands/main.ts, given the fake backends and its own argv (so the dashboard's
// children, tmux bindings and panes run on the fake backend too).
import { runCli } from '../../commands/cli.js';
import { processCtx } from '../../commands/context.js';
import { fakeBottleArgv } from './cli.js';
import { fakeBackends } from './fake-backend.js';

process.exitCode = await runCli(process.argv.slice(2), { ...processCtx(), backends: fakeBackends, self: fakeBottleArgv() });
