// `bottle export`: a bottle's work as files a person can take elsewhere — every claude session as
// JSONL and as readable text, the unpushed commits as a git bundle, the uncommitted changes as a
// patch (or the plain workspace files). A running bottle is saved first, so the export is current.
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { bottlePaths } from '../state/index.js';
import { backendOf, engineStateOf, findBottle, type LifecycleDeps } from './context.js';
import { readSavedSummary, saveWork, type SavedSummary } from './save.js';

// Terminal control characters out (the transcript holds whatever the agent and the web wrote).
const clean = (s: string): string => s.replace(/\r\n/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');

const clip = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s);

function contentText(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  const out: string[] = [];
  for (const part of content as Array<Record<string, unknown>>) {
    if (part?.type === 'text' && typeof part.text === 'string') out.push(part.text);
    else if (part?.type === 'thinking' && typeof part.thinking === 'string') out.push(`[thinking] ${clip(part.thinking, 2000)}`);
    else if (part?.type === 'tool_use') out.push(`[tool ${String(part.name)}] ${clip(JSON.stringify(part.input ?? {}), 2000)}`);
    else if (part?.type === 'tool_result') out.push(`[tool result] ${clip(contentText(part.content).join('\n'), 2000)}`);
  }
  return out;
}

// Claude Code session JSONL → readable text: one block per user/assistant message, tool calls
// and results shortened, anything that is not a message skipped. Pure.
export function renderTranscript(jsonl: string): string {
  const blocks: string[] = [];
  for (const line of jsonl.split('\n')) {
    if (!line.trim()) continue;
    let rec: Record<string, unknown>;
    try { rec = JSON.parse(line) as Record<string, unknown>; } catch { continue; }
    const message = rec.message as { role?: unknown; content?: unknown } | undefined;
    if ((rec.type !== 'user' && rec.type !== 'assistant') || !message) continue;
    const text = contentText(message.content).join('\n').trim();
    if (!text) continue;
    const when = typeof rec.timestamp === 'string' ? ` ${rec.timestamp}` : '';
    blocks.push(`── ${String(rec.type)}${when}\n${clean(text)}`);
  }
  return blocks.length ? `${blocks.join('\n\n')}\n` : '(no messages)\n';
}

export interface ExportResult {
  dir: string;
  files: string[];
  saved: SavedSummary;
  /** A save was taken now (the bottle was running). */
  savedNow: boolean;
}

// Writes the export into `out` (created; an existing non-empty dir is refused, nothing is overwritten).
export async function exportBottle(deps: LifecycleDeps, slug: string, out: string | undefined, cwd: string): Promise<ExportResult> {
  const meta = await findBottle(deps, slug);
  const dir = resolve(cwd, out ?? `bottle-export-${meta.slug}`);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UserError(`${dir} exists and is not empty; pass --out with a new directory`);
  const backend = await backendOf(deps, meta);
  const engine = await engineStateOf(backend, meta);
  let savedNow = false;
  if (engine === 'running' && meta.state !== 'stopped') {
    await saveWork(backend, deps.root, meta, deps.now());
    savedNow = true;
  }
  const saved = readSavedSummary(deps.root, meta.slug);
  if (!saved) {
    throw new UserError(`${meta.slug} has no saved work to export (${engine === 'missing' ? 'its containers were gone before anything was saved' : `engine: ${engine}`}); \`bottle resume ${meta.slug}\` or \`bottle stop ${meta.slug}\` saves what is left`);
  }
  const src = bottlePaths(deps.root, meta.slug).saved;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  const put = (name: string, from: string): void => {
    copyFileSync(from, join(dir, name));
    files.push(name);
  };
  const projects = join(src, 'claude', 'projects');
  if (existsSync(projects)) {
    mkdirSync(join(dir, 'transcripts'), { mode: 0o700 });
    for (const p of readdirSync(projects, { withFileTypes: true })) {
      if (!p.isDirectory()) continue;
      for (const f of readdirSync(join(projects, p.name))) {
        if (!/^[0-9a-f-]{36}\.jsonl$/.test(f)) continue;
        const id = f.slice(0, -'.jsonl'.length);
        put(join('transcripts', f), join(projects, p.name, f));
        writeFileSync(join(dir, 'transcripts', `${id}.txt`), renderTranscript(readFileSync(join(projects, p.name, f), 'utf8')), { mode: 0o600 });
        files.push(join('transcripts', `${id}.txt`));
      }
    }
  }
  if (existsSync(join(src, 'git', 'work.bundle'))) put('work.bundle', join(src, 'git', 'work.bundle'));
  if (existsSync(join(src, 'git', 'uncommitted.patch'))) put('uncommitted.patch', join(src, 'git', 'uncommitted.patch'));
  if (existsSync(join(src, 'files'))) {
    cpSync(join(src, 'files'), join(dir, 'files'), { recursive: true, verbatimSymlinks: true });
    files.push('files/');
  }
  const head = existsSync(join(src, 'git', 'HEAD')) ? readFileSync(join(src, 'git', 'HEAD'), 'utf8').trim() : '';
  writeFileSync(join(dir, 'README.txt'), exportReadme(meta.slug, saved, head, files), { mode: 0o600 });
  files.push('README.txt');
  return { dir, files, saved, savedNow };
}

function exportReadme(slug: string, s: SavedSummary, head: string, files: string[]): string {
  const lines = [`Work of bottle ${slug}, saved ${s.savedAt}.`, 'It is the agent\'s work: review it before you apply it.', ''];
  if (files.includes('work.bundle')) {
    lines.push(`work.bundle: ${s.commits} commit(s) that were on no remote. In your clone:`, `  git fetch ${'<this dir>'}/work.bundle 'refs/heads/*:refs/remotes/bottle/*'`, '');
  }
  if (files.includes('uncommitted.patch')) {
    lines.push(`uncommitted.patch: ${s.changedFiles} file(s) changed on top of ${head || 'HEAD'}. In your clone, on that commit:`, '  git apply --binary uncommitted.patch', '');
  }
  if (files.includes('files/')) lines.push('files/: the workspace as it was (it was not a git checkout).', '');
  if (files.some((f) => f.startsWith('transcripts'))) lines.push('transcripts/: each claude session as Claude Code wrote it (.jsonl) and as text (.txt).', '');
  return `${lines.join('\n').trimEnd()}\n`;
}
