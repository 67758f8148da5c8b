// Opening the operator's editor on a file: $VISUAL, then $EDITOR, then vi.
import { parse } from 'shell-quote';
import { BinaryNotFoundError, UserError } from '../errors.js';
import { loadExeca } from '../run/index.js';

// The argv that edits `file`. The editor value may carry arguments ("code --wait"), split the
// way a shell would (quotes, $VARS from env) but never run through one.
export function editorArgv(env: NodeJS.ProcessEnv, file: string): string[] {
  const name = env.VISUAL?.trim() ? 'VISUAL' : env.EDITOR?.trim() ? 'EDITOR' : undefined;
  const raw = name ? env[name]!.trim() : 'vi';
  const words: string[] = [];
  for (const entry of parse(raw, env)) {
    if (typeof entry === 'string') words.push(entry);
    else if ('op' in entry && entry.op === 'glob') words.push(entry.pattern);
    else throw new UserError(`$${name} (${raw}) contains shell syntax; set it to a command and its arguments, e.g. EDITOR='code --wait'`);
  }
  const argv = words.filter((w) => w !== '');
  if (argv.length === 0) throw new UserError(`$${name} is empty after expansion; set it to an editor command, e.g. EDITOR=vi`);
  return [...argv, file];
}

// Runs the editor on the operator's terminal and waits for it. execa is used directly here
// (not lib/run) because an editor needs the inherited stdin/stdout/stderr, which the runner
// deliberately captures.
export async function runEditor(argv: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<void> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runEditor: empty argv');
  const r = await (await loadExeca())(file, args, { stdio: 'inherit', reject: false, env, extendEnv: false, cwd });
  if ((r as { code?: string }).code === 'ENOENT' && r.exitCode === undefined) {
    throw new BinaryNotFoundError(file, argv, 'set $EDITOR (or $VISUAL) to an installed editor');
  }
  if (r.failed) {
    const why = r.signal ? `was killed by ${r.signal}` : `exited ${r.exitCode ?? '?'}`;
    throw new UserError(`editor ${file} ${why}; nothing was changed`);
  }
}
