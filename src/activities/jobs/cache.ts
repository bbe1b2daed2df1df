// The training cache: an identical training request reuses the earlier artifact.
//
// Cache key = sha256 of the canonical JSON of
//   { v: 2, command, params (keys sorted), data: [{ path, sha256 }] (sorted by path), code, env (keys sorted), codeVersion }
// where `command` is the command without the param flags, each data entry's digest is the sha256
// of the file's bytes (a folder: of its files' relative paths and digests, recursively), or for an
// entry DVC tracks `dvc-md5:<the md5 DVC recorded>` (its bytes are not read; see dvc.ts), and `code`
// is digestTree(cwd): the training code as it is on disk, committed or not. Everything that can
// change what the job computes is in it; the job's name is not (it only says where the job runs).
// An entry `<stateDir>/cache/train/<key>.json` is honoured only while the artifact it names still
// exists with the recorded digest. Clear the cache by deleting `<stateDir>/cache/train`.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from '../../system/files.js';
import { dvcTracked, type DvcTracked } from './dvc.js';
import type { TrainParams, TrainResult } from './types.js';

export interface DataDigest {
  path: string;
  /** sha256 hex of the bytes, or `dvc-md5:<md5>` for an entry DVC tracks. */
  sha256: string;
  /** Set for an entry DVC tracks: the job's host pulls it before the job runs. */
  dvc?: DvcTracked;
}

/** sha256 (hex) of a file's bytes, streamed so large checkpoints do not sit in memory. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function digestPath(abs: string): Promise<string> {
  if (!(await stat(abs)).isDirectory()) return sha256File(abs);
  const entries = (await readdir(abs)).sort();
  const hash = createHash('sha256');
  for (const entry of entries) hash.update(`${entry}\0${await digestPath(path.join(abs, entry))}\n`);
  return hash.digest('hex');
}

/**
 * Digests of the data paths (relative to `cwd`). An entry DVC tracks is keyed by the md5 DVC recorded,
 * without reading it (it need not even be on this host yet). Rejects with ENOENT for a missing path.
 */
export async function digestData(cwd: string, paths: string[]): Promise<DataDigest[]> {
  const out: DataDigest[] = [];
  for (const p of paths) {
    const abs = path.resolve(cwd, p);
    const dvc = await dvcTracked(abs);
    out.push(dvc ? { path: p, sha256: `dvc-md5:${dvc.md5}`, dvc } : { path: p, sha256: await digestPath(abs) });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface TrainCacheParts {
  command: string[];
  params: TrainParams;
  data: DataDigest[];
  /** digestTree of the job's cwd: the training code. */
  code: string;
  /** The job's environment as the spec gives it. */
  env: Record<string, string>;
  codeVersion: string;
}

/** The cache key of a training request (see the file comment for what goes in). */
export function trainCacheKey(parts: TrainCacheParts): string {
  const canonical = JSON.stringify({ v: 2, command: parts.command, params: sortKeys(parts.params), data: parts.data.map((d) => ({ path: d.path, sha256: d.sha256 })), code: parts.code, env: sortKeys(parts.env), codeVersion: parts.codeVersion });
  return createHash('sha256').update(canonical).digest('hex');
}

const sortKeys = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Folders never hashed as code: version control, installed dependencies, caches, Slipway's state. */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set(['.git', '.hg', '.svn', '.dvc', 'node_modules', '__pycache__', '.venv', 'venv', '.tox', '.mypy_cache', '.pytest_cache', '.ruff_cache', '.ipynb_checkpoints', '.slipway']);
/** Files above this size (weights, datasets) are identified by size and mtime instead of read. */
const CONTENT_FILE_LIMIT = 16 * 2 ** 20;
/** After this many bytes read, the remaining files are identified by size and mtime. */
const CONTENT_TOTAL_LIMIT = 256 * 2 ** 20;
/** Source files are small: read them whole rather than through a stream. */
const SMALL_FILE = 2 ** 20;
/** A code folder this big is almost surely the wrong folder (a home directory, a checkout root with data). */
export const MAX_TREE_FILES = 20_000;

/** The folder holds more than MAX_TREE_FILES files; the message says which folder and what to do. */
export class TreeTooLargeError extends Error {
  override readonly name = 'TreeTooLargeError';
}

/**
 * `sha256:<hex>` of a code folder: every file's relative path and content digest, in sorted order,
 * so any edit, addition, removal or rename changes it. Skips SKIPPED_DIRS, `*.pyc` and the absolute
 * paths in `exclude` (e.g. a state dir inside the folder, whose contents change on every run).
 * Symbolic links count by their target's path, and are not followed. Large files, and files past
 * a total budget, count by size and mtime so that hashing stays fast; a folder with more than
 * `maxFiles` (MAX_TREE_FILES) files throws TreeTooLargeError. Rejects with ENOENT when `root` does not exist.
 */
export async function digestTree(root: string, opts: { exclude?: string[]; maxFiles?: number } = {}): Promise<string> {
  const exclude = new Set((opts.exclude ?? []).map((p) => path.resolve(p)));
  const maxFiles = opts.maxFiles ?? MAX_TREE_FILES;
  const hash = createHash('sha256');
  let [files, readBytes] = [0, 0];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const names = new Set(entries.map((e) => e.name));
    for (const entry of entries) {
      const abs = path.join(dir, entry.name);
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      // Data DVC tracks counts through its .dvc file (which holds its md5), not its bytes.
      if (exclude.has(abs) || names.has(`${entry.name}.dvc`)) continue;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) await walk(abs, relPath);
        continue;
      }
      if (entry.name.endsWith('.pyc')) continue;
      if (++files > maxFiles) {
        throw new TreeTooLargeError(`${root} holds more than ${maxFiles} files (not counting ${[...SKIPPED_DIRS].join(', ')}): point cwd at the code's own folder`);
      }
      if (entry.isSymbolicLink()) hash.update(`${relPath}\0link\0${await readlink(abs)}\n`);
      else if (entry.isFile()) {
        const info = await lstat(abs);
        if (info.size > CONTENT_FILE_LIMIT || readBytes + info.size > CONTENT_TOTAL_LIMIT) hash.update(`${relPath}\0stat\0${info.size}:${info.mtimeMs}\n`);
        else {
          readBytes += info.size;
          const digest = info.size <= SMALL_FILE ? createHash('sha256').update(await readFile(abs)).digest('hex') : await sha256File(abs);
          hash.update(`${relPath}\0file\0${digest}\n`);
        }
      }
    }
  };
  await walk(path.resolve(root), '');
  return `sha256:${hash.digest('hex')}`;
}

function entryPath(stateDir: string, key: string): string {
  return path.join(stateDir, 'cache', 'train', `${key}.json`);
}

/** The recorded result for `key`, or null when there is none or its artifact changed or vanished. */
export async function lookupTrainCache(stateDir: string, key: string): Promise<TrainResult | null> {
  let entry: TrainResult;
  try {
    entry = JSON.parse(await readFile(entryPath(stateDir, key), 'utf8')) as TrainResult;
  } catch {
    return null;
  }
  const digest = await sha256File(entry.artifactPath).catch(() => null);
  return digest === entry.artifactDigest ? entry : null;
}

/** Records a successful run; written to a temp file and renamed so readers never see half an entry. */
export async function recordTrainCache(stateDir: string, key: string, result: TrainResult): Promise<void> {
  writeJsonAtomic(entryPath(stateDir, key), { ...result, cached: false });
}
