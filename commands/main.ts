// Process entry point: the only place that reads argv and exits.
import { runCli } from './cli.js';
import { processCtx } from './context.js';

const code = await runCli(process.argv.slice(2), processCtx());
process.exitCode = code;
