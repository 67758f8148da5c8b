// Process entry point: the only place that reads argv and exits.
const args = process.argv.slice(2);

async function main(): Promise<number> {
  if (args[0] === 'tmux' && args[1] === 'key') {
    const { fastTmuxKey } = await import('./tmux-key-fast.js');
    const code = await fastTmuxKey(args.slice(2));
    if (code !== undefined) return code;
  }
  // Every verb loads only its own module (see cli.ts): a restarted gateway listens sooner.
  const { runCli } = await import('./cli.js');
  const { processCtx } = await import('./context.js');
  return runCli(args, processCtx());
}

process.exitCode = await main();
