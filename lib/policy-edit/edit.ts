// `bottle allowlist edit` / `bottle routes edit`: one section of the live policy in the
// operator's editor; validated on save, applied live under the policy lock.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { UserError } from '../errors.js';
import { policyHash as meaningHash, type Policy } from '../policy/index.js';
import type { BundleControl } from '../proposals/control.js';
import type { BottlePaths } from '../state/index.js';
import { diffPolicies, newRouteVars, requireEnv } from './diff.js';
import { readPolicyFile, withPolicyLock, writePolicyFile } from './store.js';
import { applySection, SECTIONS, sectionText, type SectionEdit, type SectionName } from './text.js';

// The outside world an edit needs; injected so tests drive it with a scripted editor.
export interface EditDeps {
  /** Opens the editor on `file`; resolves when it exits, throws if it failed. */
  edit(file: string): Promise<void>;
  /** Asks yes/no on the operator's terminal (an empty answer is `fallback`, default yes); absent when there is none. */
  confirm?: (question: string, fallback?: boolean) => Promise<boolean>;
  /** Adding "*" (every host) was confirmed up front (--allow-all). */
  allowAll?: boolean;
  /** Where validation errors are shown before asking to re-edit. */
  err(text: string): void;
  /** Parent of the private temp dir (default os.tmpdir()). */
  tmpRoot?: string;
  /** The env with these route variables' values resolved (credentials.yaml); throws a UserError naming what is missing. */
  credentials?: (names: string[]) => Promise<NodeJS.ProcessEnv>;
}

// What an edit did: `changed: false` means nothing was written (unchanged, or no real change).
export interface EditResult {
  slug: string;
  changed: boolean;
  /** `+ allow example.com`-style lines. */
  summary: string[];
  /** Env var names handed to the gateway for new or changed routes. */
  secrets: string[];
  /** The running bundle was reloaded (false: the change applies at next start). */
  live: boolean;
}

function sectionOf(p: Policy, section: SectionName): string {
  const sorted = (xs: string[]) => [...xs].sort();
  const pick: Record<string, unknown> = Object.fromEntries(SECTIONS[section].map((k) => [k, k === 'routes' ? [...p.routes].sort((a, b) => a.host.localeCompare(b.host)) : sorted(p[k])]));
  // A grant's expiry is part of the allowlist: an approval --for meanwhile is a change too.
  if (section === 'allowlist' && p.allowUntil) pick.allowUntil = Object.entries(p.allowUntil).sort();
  return JSON.stringify(pick);
}

// A rejected edit is not lost: it stays, private, next to the policy it was meant for.
async function keepRejected(paths: BottlePaths, section: SectionName, text: string): Promise<string> {
  const kept = join(paths.dir, `${section}.rejected.yaml`);
  await writeFile(kept, text, { mode: 0o600 });
  await chmod(kept, 0o600);
  return kept;
}

// Edits one section of a bottle's policy: temp copy in a private dir, editor, validate (re-edit
// on error when there is a terminal), then lock, write atomically, provide secrets, reload.
export async function editPolicy(paths: BottlePaths, section: SectionName, deps: EditDeps, control: BundleControl, env: NodeJS.ProcessEnv): Promise<EditResult> {
  const slug = basename(paths.dir);
  const unchanged: EditResult = { slug, changed: false, summary: [], secrets: [], live: control.live };
  const start = await readPolicyFile(paths);
  const dir = await mkdtemp(join(deps.tmpRoot ?? tmpdir(), 'bottle-edit-'));
  try {
    await chmod(dir, 0o700);
    const file = join(dir, `${slug}.${section}.yaml`);
    const initial = sectionText(start.text, section, slug);
    await writeFile(file, initial, { mode: 0o600 });
    let edited: string;
    let edit: SectionEdit;
    for (;;) {
      await deps.edit(file);
      edited = await readFile(file, 'utf8');
      if (edited === initial) return unchanged;
      try {
        edit = applySection(start.text, start.file, edited, file, section);
        const needed = newRouteVars(start.policy, edit.next);
        if (deps.credentials && needed.length > 0) env = await deps.credentials(needed);
        requireEnv(needed, env, 'the edited routes');
        break;
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        if (deps.confirm) {
          deps.err(`bottle: ${e.message}`);
          if (await deps.confirm('Re-edit? [Y/n] ')) continue;
        }
        const kept = await keepRejected(paths, section, edited);
        throw new UserError(`${deps.confirm ? 'edit abandoned' : e.message}; ${slug}'s policy is unchanged. Your text is kept in ${kept}; after fixing it there, apply it with: EDITOR='cp ${kept}' bottle ${section === 'routes' ? 'routes' : 'allowlist'} edit ${slug}`);
      }
    }
    if (meaningHash(edit.next) === meaningHash(start.policy)) return unchanged;
    // "*" turns the allowlist into DLP-only mode: the agent may then connect anywhere. One
    // keystroke in an editor should not do that unasked.
    if (edit.next.allow.includes('*') && !start.policy.allow.includes('*') && !deps.allowAll) {
      const question = 'Allow every host ("*": the allowlist no longer limits where the agent connects; DLP still applies)? [y/N] ';
      if (!deps.confirm || !(await deps.confirm(question, false))) {
        const kept = await keepRejected(paths, section, edited);
        const how = deps.confirm ? 'not confirmed' : 'adding "*" allows every host and needs a confirmation: run this in a terminal, or pass --allow-all';
        throw new UserError(`${how}; ${slug}'s policy is unchanged. Your text is kept in ${kept}`);
      }
    }
    return await withPolicyLock(paths, async () => {
      const now = await readPolicyFile(paths);
      if (now.text !== start.text) {
        // Another operator (an approval, another edit) wrote meanwhile: fine if it was
        // elsewhere in the policy, a lost update if it was in this section.
        if (sectionOf(now.policy, section) !== sectionOf(start.policy, section)) {
          throw new UserError(`${slug}'s ${SECTIONS[section].join('/')} changed while you were editing (an approval?); nothing was written: run the command again`);
        }
        edit = applySection(now.text, now.file, edited, file, section);
      }
      const summary = diffPolicies(now.policy, edit.next);
      if (summary.length === 0) return unchanged;
      const secrets = newRouteVars(now.policy, edit.next);
      requireEnv(secrets, env, 'the edited routes');
      await writePolicyFile(paths, edit.text);
      try {
        if (secrets.length > 0) await control.provideSecrets(slug, secrets, env);
        await control.reload(slug);
      } catch (e) {
        throw new UserError(`the policy file ${now.file} was updated, but ${slug}'s bundle was not (${(e as Error).message}); restart the bottle to apply it`);
      }
      return { slug, changed: true, summary, secrets, live: control.live };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
