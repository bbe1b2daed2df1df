// The training cache: an identical training request reuses the earlier artifact.
//
// Cache key = sha256 of the canonical JSON of
//   { v: 1, command, params (keys sorted), data: [{ path, sha256 }] (sorted by path), codeVersion }
// where `command` is the command without the param flags and each data entry's digest is the
// sha256 of the file's bytes (a folder: of its files' relative paths and digests, recursively).
// The job's env, cwd and name are left out on purpose: they say where and under which name a job
// runs, not what it computes; a setting that changes the result belongs in params.
// An entry `<stateDir>/cache/train/<key>.json` is honoured only while the artifact it names still
// exists with the recorded digest.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TrainParams, TrainResult } from './types.js';

export interface DataDigest {
  path: string;
  sha256: string;
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

/** Digests of the data paths (relative to `cwd`). Rejects with ENOENT for a missing path. */
export async function digestData(cwd: string, paths: string[]): Promise<DataDigest[]> {
  const out: DataDigest[] = [];
  for (const p of paths) out.push({ path: p, sha256: await digestPath(path.resolve(cwd, p)) });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The cache key of a training request (see the file comment for what goes in). */
export function trainCacheKey(parts: { command: string[]; params: TrainParams; data: DataDigest[]; codeVersion: string }): string {
  const params = Object.fromEntries(Object.entries(parts.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const canonical = JSON.stringify({ v: 1, command: parts.command, params, data: parts.data, codeVersion: parts.codeVersion });
  return createHash('sha256').update(canonical).digest('hex');
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
  const file = entryPath(stateDir, key);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ ...result, cached: false }, null, 2));
  await rename(tmp, file);
}
