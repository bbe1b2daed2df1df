// Layered CI: classify a change by the spec's `ci` globs, then start only what it needs.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_QUEUES, type SlipwayQueues } from '../queues.js';
import type { LightChecksInput, TriggerInfo } from '../workflows/light-checks.js';
import { RELEASE_ID_POLICIES, releaseStart } from './release-start.js';
import type { LoadedSpec } from './spec-file.js';

export type ChangeKind = 'code' | 'data' | 'model';

export interface ChangeSet {
  /** Changed files relative to the spec's directory, `/`-separated. */
  files: string[];
  /** Short digest naming the change: same change, same workflow ids. */
  digest: string;
}

export interface Decision {
  matches: Array<{ file: string; kind: ChangeKind; glob: string }>;
  unmatched: string[];
  checks: TriggerInfo | null;
  pipeline: TriggerInfo | null;
  /** One line a human reads: what runs and why, or why nothing runs. */
  summary: string;
}

export interface StartedRun {
  kind: 'lightChecks' | 'releasePipeline';
  workflowId: string;
  /** true: this change already has a run (running, or finished and not failed): nothing new started. */
  existing: boolean;
  status?: string;
}

function globBody(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      // `**/` also matches no directory at all: `data/**/x` matches `data/x`.
      if (glob[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{' && glob.indexOf('}', i) > i) {
      const end = glob.indexOf('}', i);
      re += `(?:${glob.slice(i + 1, end).split(',').map(globBody).join('|')})`;
      i = end;
    } else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return re;
}

/** A small glob matcher (`**`, `*`, `?`, `{a,b}`; a trailing `/` means everything below). */
export function matchesGlob(file: string, glob: string): boolean {
  const g = glob.replace(/^\.\//, '');
  return new RegExp(`^${globBody(g.endsWith('/') ? `${g}**` : g)}$`).test(file);
}

const short = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);
const toPosix = (p: string) => p.split(path.sep).join('/');

/** The path with symlinks resolved (git prints real paths), also for a file that no longer exists. */
function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const parent = path.dirname(p);
    return parent === p ? p : path.join(real(parent), path.basename(p));
  }
}

/**
 * Where relative `--changed` paths start: the root of the git repository around `cwd`, as
 * `git diff --name-only` prints them; `cwd` itself outside a repository.
 */
export function changedFilesBase(cwd = process.cwd()): string {
  try {
    return execFileSync('git', ['-C', cwd, 'rev-parse', '--show-toplevel'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || cwd;
  } catch {
    return cwd;
  }
}

/** Changed files named on the command line; the digest covers their contents, so an edit is a new change. */
export function changeFromFiles(loaded: LoadedSpec, files: string[], base = changedFilesBase()): ChangeSet {
  const entries = files.map((f) => {
    const abs = path.resolve(base, f);
    let content: string;
    try {
      content = createHash('sha256').update(readFileSync(abs)).digest('hex');
    } catch {
      content = 'deleted';
    }
    return { rel: toPosix(path.relative(real(loaded.dir), real(abs))), content };
  });
  entries.sort((a, b) => a.rel.localeCompare(b.rel));
  return { files: entries.map((e) => e.rel), digest: short(entries.map((e) => `${e.rel}\0${e.content}`).join('\n')) };
}

/** Changed files of a git range (`A..B`) in the spec's repository; the digest covers the commits. */
export function changeFromGitRange(loaded: LoadedSpec, range: string): ChangeSet {
  const git = (...args: string[]) => execFileSync('git', ['-C', loaded.dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const top = git('rev-parse', '--show-toplevel');
  const commits = git('rev-parse', range);
  const files = git('diff', '--name-only', range)
    .split('\n')
    .filter(Boolean)
    .map((f) => toPosix(path.relative(loaded.dir, path.join(top, f))))
    .sort();
  return { files, digest: short(`git\0${commits}`) };
}

/** Which rules each file matches (a file may count for several) and what that starts. */
export function classify(loaded: LoadedSpec, files: string[]): Decision {
  const ci = loaded.spec.ci;
  const rules: Array<[ChangeKind, string[]]> = [['code', ci?.code ?? []], ['data', ci?.data ?? []], ['model', ci?.model ?? []]];
  const matches: Decision['matches'] = [];
  for (const file of files) {
    for (const [kind, globs] of rules) {
      const glob = globs.find((g) => matchesGlob(file, g));
      if (glob) matches.push({ file, kind, glob });
    }
  }
  const unmatched = files.filter((f) => !matches.some((m) => m.file === f));
  const info = (kinds: ChangeKind[]): TriggerInfo | null => {
    const hits = matches.filter((m) => kinds.includes(m.kind));
    if (!hits.length) return null;
    const kind = kinds.filter((k) => hits.some((h) => h.kind === k)).join('+');
    return { kind, reason: hits.map((h) => `${h.file} matched ${h.kind} rule ${h.glob}`).join('; '), files: [...new Set(hits.map((h) => h.file))] };
  };
  const code = info(['code']);
  const checks = code && (ci?.checks.length ?? 0) > 0 ? code : null;
  const pipeline = info(['data', 'model']);
  const parts = [
    pipeline ? `full pipeline (${pipeline.kind} changed: ${pipeline.reason})` : '',
    checks ? `light checks (code changed: ${checks.reason})` : '',
    code && !checks ? 'code changed but the spec has no ci.checks: no checks to run' : '',
  ].filter(Boolean);
  const summary = parts.length ? parts.join('; ') : `nothing to run: no changed file matches the spec's ci rules (${files.length} file(s) checked)`;
  return { matches, unmatched, checks, pipeline, summary };
}

/** Starts what the decision asks for; the same change never starts the same workflow twice. */
export async function startForDecision(client: Client, loaded: LoadedSpec, change: ChangeSet, decision: Decision, opts: { queues?: Partial<SlipwayQueues> } = {}): Promise<StartedRun[]> {
  const taskQueue = opts.queues?.orchestration ?? DEFAULT_QUEUES.orchestration;
  const started: StartedRun[] = [];
  if (decision.checks) {
    const input: LightChecksInput = {
      pipeline: loaded.spec.name,
      checks: (loaded.spec.ci?.checks ?? []).map((c) => ({ name: c.name, command: c.command, cwd: path.resolve(loaded.dir, c.cwd) })),
      trigger: capped(decision.checks),
    };
    const workflowId = `checks:${loaded.spec.name}:${change.digest}`;
    started.push(await startOnce(client, 'lightChecks', workflowId, { taskQueue, args: [input] }));
  }
  if (decision.pipeline) {
    const { workflowType, workflowId, ...start } = releaseStart(loaded, { release: `ci-${change.digest}`, queues: opts.queues, trigger: capped(decision.pipeline) });
    started.push(await startOnce(client, workflowType, workflowId, start));
  }
  return started;
}

/** Memos and inputs stay small: a huge change keeps its first 200 files and says how many more. */
function capped(t: TriggerInfo): TriggerInfo {
  if (t.files.length <= 200) return t;
  return { ...t, files: [...t.files.slice(0, 200), `… and ${t.files.length - 200} more`], reason: t.reason.slice(0, 4000) };
}

type StartOpts = Parameters<Client['workflow']['start']>[1];

async function startOnce(client: Client, kind: StartedRun['kind'], workflowId: string, opts: Omit<StartOpts, 'workflowId'>): Promise<StartedRun> {
  try {
    // A failed run of the same change may run again (a flaky check); a passed or running one is not repeated.
    await client.workflow.start(kind, { ...opts, workflowId, ...RELEASE_ID_POLICIES } as StartOpts);
    return { kind, workflowId, existing: false };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const status = (await client.workflow.getHandle(workflowId).describe()).status.name;
    return { kind, workflowId, existing: true, status };
  }
}
