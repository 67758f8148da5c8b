// The multi-step flows behind `y` (launch), Enter (attach, or resume a stopped bottle), `x`
// (stop) and `D` (remove): detached bottle processes plus, inside tmux, the right pane (log
// tail, then the claude session), or, outside tmux, a log modal and a foreground handoff.
import { watch, readFileSync, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { sourcedNames } from '../lib/credentials.js';
import { claimBottle } from '../lib/lifecycle/index.js';
import { preparePlan, checkPlanPaths } from '../lib/plan/index.js';
import { bottlePaths } from '../lib/state/index.js';
import { errorText, say, type ActionContext } from './context.js';
import { spawnDetached, StderrCapture } from './spawn.js';
import { cycleAgent, launched, pointAt, selectedAgent, withoutBottle, type AppState } from './state.js';

// The last `max` lines of a log file ([] when it is gone).
export function tailLines(file: string, max = 200): string[] {
  try {
    const text = readFileSync(file, 'utf8');
    return text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1).slice(-max);
  } catch {
    return [];
  }
}

// Outside tmux: shows a log in the log modal while `until` runs, following the file's changes.
// Closing the modal (Esc) stops the view, not the work; the status line reports the outcome.
async function logModal(ctx: ActionContext, title: string, file: string, until: Promise<number>): Promise<number> {
  const refresh = (): void => ctx.store.update((s) => {
    if (s.modal?.kind !== 'log' || s.modal.title !== title) return s;
    const lines = tailLines(file);
    // A failed bring-up removes the state dir, log included: keep what was shown.
    return lines.length === 0 ? s : { ...s, modal: { ...s.modal, lines } };
  });
  ctx.store.update((s) => ({ ...s, modal: { kind: 'log', title, lines: tailLines(file) } }));
  let w: FSWatcher | undefined;
  try {
    w = watch(file, { persistent: false }, refresh);
    w.on('error', () => w?.close());
  } catch { /* already gone */ }
  try {
    return await until;
  } finally {
    w?.close();
    refresh();
  }
}

function label(agent: string, slug: string, what?: string): string {
  return `${agent} ${slug}${what ? ` (${what})` : ''}`;
}

// n → picker → (engine) → preflight → y: claim a slug, start `bottle start` detached (on
// `engine` when one was chosen), show its bring-up, then its claude session (focus moves there)
// or the failure.
export async function launch(ctx: ActionContext, agent: string, engine?: string): Promise<void> {
  const loaded = ctx.manifest();
  const plan = preparePlan(loaded, agent, { cwd: ctx.cwd, sourced: sourcedNames(ctx.deps.env), ...(engine ? { engine } : {}) }, ctx.deps.env);
  checkPlanPaths(plan, loaded);
  const meta = await claimBottle(ctx.deps, plan);
  await bringUp(ctx, {
    slug: meta.slug, agent, verb: 'start', doing: 'starting', done: 'is up',
    argv: [...ctx.bottleArgv, 'start', agent, '--yes', '--no-attach', '--slug', meta.slug, '--manifest', loaded.path, ...(engine ? ['--engine', engine] : [])],
  });
}

// Enter on a stopped/down bottle → y: `bottle resume --no-attach` detached, shown as a start is;
// attach then resumes the last claude session. Route values reach it as they reach a start: the
// dashboard's environment (credentials handed over by `bottle tmux` included) and
// credentials.yaml, resolved by the child.
export async function resume(ctx: ActionContext, slug: string): Promise<void> {
  const b = ctx.store.get().bottles.find((x) => x.slug === slug);
  // Emptied first, so the tail starts on this resume's lines, not the first start's.
  writeFileSync(bottlePaths(ctx.deps.root, slug).bringupLog, '', { mode: 0o600 });
  await bringUp(ctx, {
    slug, agent: b?.agent ?? slug, verb: 'resume', doing: 'resuming', done: 'is back',
    argv: [...ctx.bottleArgv, 'resume', slug, '--no-attach'],
  });
}

interface BringUp {
  slug: string;
  agent: string;
  argv: string[];
  /** `start of X failed` (also names the stderr capture file). */
  verb: string;
  /** `starting X…` on the status line, the pane label and the log view's title. */
  doing: string;
  /** `X is up`. */
  done: string;
}

// A detached bring-up child: the right pane tails bringup.log (outside tmux, the log modal),
// then the agent's claude session takes the pane (focused), or the failure is said.
async function bringUp(ctx: ActionContext, o: BringUp): Promise<void> {
  const { slug, agent } = o;
  const paths = bottlePaths(ctx.deps.root, slug);
  const stderr = new StderrCapture(join(paths.dir, `dashboard-${o.verb}.err`));
  const child = spawnDetached(o.argv, { env: ctx.deps.env, cwd: ctx.cwd, stderrFile: stderr.path });
  // The cursor goes to the row (regression: it stayed on the previously selected bottle).
  ctx.store.update((s) => ({ ...launched(s, slug), occupant: ctx.right ? slug : s.occupant, status: { text: `${o.doing} ${slug}…`, level: 'info' } }));
  ctx.reload();
  let code: number;
  let mine = -1;
  if (ctx.right) {
    await ctx.right.tail(paths.bringupLog, label(agent, slug, o.doing), slug).catch((e) => say(ctx, `right pane: ${errorText(e)}`, 'error'));
    mine = ctx.right.generation;
    code = await child.exit;
  } else {
    code = await logModal(ctx, `${o.doing[0]!.toUpperCase()}${o.doing.slice(1)} ${slug}`, paths.bringupLog, child.exit);
  }
  const why = stderr.lastLine().replace(/^bottle: /, '');
  stderr.close();
  ctx.reload();
  if (code !== 0) {
    // `bottle resume` says `resuming X failed: …` itself: not twice.
    const text = why.startsWith(`${o.doing} ${slug} failed`) ? why : `${o.verb} of ${slug} failed${why ? `: ${why}` : ` (exit ${code})`}`;
    say(ctx, text, 'error');
    if (ctx.right?.generation === mine) await ctx.right.label(label(agent, slug, 'failed')).catch(() => undefined);
    if (!ctx.right) ctx.store.update((s) => (s.modal?.kind === 'log' ? { ...s, modal: { ...s.modal, done: text } } : s));
    return;
  }
  say(ctx, `${slug} ${o.done}`);
  if (ctx.right) {
    // The operator may have put another agent in the pane meanwhile: do not take it back.
    if (ctx.right.generation === mine) await ctx.right.attach(slug, label(agent, slug), true);
  } else {
    ctx.store.update((s) => (s.modal?.kind === 'log' ? { ...s, modal: undefined } : s));
    await attach(ctx, slug);
  }
}

// Enter: the agent's claude session in the right pane (focused), or in this terminal outside
// tmux. A bottle still coming up or going down shows its log instead.
export async function attach(ctx: ActionContext, slug: string, focus = true): Promise<void> {
  const b = ctx.store.get().bottles.find((x) => x.slug === slug);
  const agent = b?.agent ?? slug.replace(/-[a-z2-7]{6}$/, '');
  const paths = bottlePaths(ctx.deps.root, slug);
  if (!ctx.right) {
    const code = await ctx.view.runForeground([...ctx.bottleArgv, 'attach', slug], ctx.deps.env, `starting claude in ${slug}…`);
    say(ctx, code === 0 ? `left ${slug}` : `bottle attach ${slug} exited ${code}`, code === 0 ? 'info' : 'error');
    ctx.reload();
    return;
  }
  ctx.store.update((s) => pointAt({ ...s, occupant: slug }, 'agents', slug));
  if (b && (b.state === 'claimed' || b.state === 'launching' || b.state === 'resuming')) {
    await ctx.right.tail(paths.bringupLog, label(agent, slug, b.state === 'resuming' ? 'resuming' : 'starting'), slug);
  } else if (b?.state === 'stopping') {
    await ctx.right.tail(paths.teardownLog, label(agent, slug, 'stopping'), slug);
  } else {
    await ctx.right.attach(slug, label(agent, slug), focus);
  }
}

// x → y: `bottle stop` detached (it saves the work; the bottle stays listed, stopped); the right
// pane tails teardown.log; afterwards the next running agent takes the pane, or the pane closes
// when none is left.
export async function stop(ctx: ActionContext, slug: string): Promise<void> {
  const before: AppState = ctx.store.get();
  const b = before.bottles.find((x) => x.slug === slug);
  const agent = b?.agent ?? slug;
  const paths = bottlePaths(ctx.deps.root, slug);
  // Exists before tail starts following it (stop appends to it).
  writeFileSync(paths.teardownLog, '', { flag: 'a', mode: 0o600 });
  const child = spawnDetached([...ctx.bottleArgv, 'stop', slug], { env: ctx.deps.env, cwd: ctx.cwd });
  say(ctx, `stopping ${slug}…`);
  let code: number;
  let mine: number | undefined;
  if (ctx.right) {
    ctx.store.update((s) => ({ ...s, occupant: slug }));
    await ctx.right.tail(paths.teardownLog, label(agent, slug, 'stopping'), slug).catch((e) => say(ctx, `right pane: ${errorText(e)}`, 'error'));
    mine = ctx.right.generation;
    code = await child.exit;
  } else {
    code = await logModal(ctx, `Stopping ${slug}`, paths.teardownLog, child.exit);
  }
  if (code !== 0) {
    say(ctx, `stop of ${slug} failed (exit ${code}); see ${paths.teardownLog}`, 'error');
    ctx.reload();
    return;
  }
  say(ctx, `${slug} stopped; Enter on it resumes it`);
  if (!ctx.right) ctx.store.update((s) => (s.modal?.kind === 'log' ? { ...s, modal: { ...s.modal, done: `${slug} stopped` } } : s));
  await moveOn(ctx, before, slug, { removed: false, mine });
}

// D → y: `bottle rm --yes` detached; the bottle and its saved work go. If its session was in the
// right pane, the next running agent takes the pane, or the pane closes.
export async function remove(ctx: ActionContext, slug: string): Promise<void> {
  const before: AppState = ctx.store.get();
  // In the bottle's dir, read through a descriptor opened before rm deletes it.
  const stderr = new StderrCapture(join(bottlePaths(ctx.deps.root, slug).dir, 'dashboard-rm.err'));
  const child = spawnDetached([...ctx.bottleArgv, 'rm', slug, '--yes'], { env: ctx.deps.env, cwd: ctx.cwd, stderrFile: stderr.path });
  say(ctx, `removing ${slug}…`);
  const mine = before.occupant === slug ? ctx.right?.generation : undefined;
  const code = await child.exit;
  const why = stderr.lastLine().replace(/^bottle: /, '');
  stderr.close();
  if (code !== 0) {
    say(ctx, `removing ${slug} failed${why ? `: ${why}` : ` (exit ${code})`}`, 'error');
    ctx.reload();
    return;
  }
  say(ctx, `${slug} removed`);
  await moveOn(ctx, before, slug, { removed: true, mine });
}

// After a stop or a removal: the cursor goes from the bottle to the next running agent (as the
// list was when the key was pressed), which also takes the right pane if the pane was this
// bottle's (generation `mine`) and nobody repurposed it meanwhile; no running agent left: the
// pane closes.
async function moveOn(ctx: ActionContext, before: AppState, slug: string, o: { removed: boolean; mine: number | undefined }): Promise<void> {
  const cursorOnIt = selectedAgent(before)?.slug === slug;
  const next = cycleAgent(before, slug, 1, slug);
  const present = next && ctx.store.get().bottles.some((x) => x.slug === next.slug && x.state === 'running') ? next : undefined;
  ctx.store.update((s) => {
    const after = o.removed ? withoutBottle(s, slug) : s.occupant === slug ? { ...s, occupant: undefined } : s;
    return present && cursorOnIt ? pointAt(after, 'agents', present.slug) : after;
  });
  if (ctx.right && o.mine !== undefined && ctx.right.generation === o.mine) {
    if (present) await attach(ctx, present.slug, false);
    else await ctx.right.close();
  }
  ctx.reload();
}

// ]/[ from the tmux key table: the next (or previous) running agent takes the right pane.
export async function cycle(ctx: ActionContext, step: 1 | -1): Promise<string | undefined> {
  const s = ctx.store.get();
  // Nobody in the pane yet: ] starts at the first agent, [ at the last.
  const next = cycleAgent(s, s.occupant, step);
  if (!next) return undefined;
  await attach(ctx, next.slug, true);
  return next.slug;
}
