// DVC-tracked training inputs: a file or folder that DVC tracks (a `<path>.dvc` file beside it, or an
// `outs` entry of a dvc.lock) is identified by the md5 DVC recorded, so the cache key never reads
// gigabytes again; and before a job runs, `dvc pull` brings those inputs from the DVC remote.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { findTool } from '../../system/tools.js';

const run = promisify(execFile);

/** A tracked input: the md5 DVC recorded (`<hex>` or `<hex>.dir`), and the file DVC pulls it by. */
export interface DvcTracked {
  md5: string;
  /** The `.dvc` file or dvc.lock that records it (what `dvc pull` is given). */
  target: string;
}

interface DvcOut {
  path?: unknown;
  md5?: unknown;
}

/** The DVC record of `abs`, or null when DVC does not track it. */
export async function dvcTracked(abs: string): Promise<DvcTracked | null> {
  const dotDvc = `${abs}.dvc`;
  if (existsSync(dotDvc)) {
    const doc = parse(await readFile(dotDvc, 'utf8')) as { outs?: DvcOut[] } | null;
    const out = doc?.outs?.find((o) => typeof o.path === 'string' && path.resolve(path.dirname(dotDvc), o.path) === abs);
    if (out && typeof out.md5 === 'string') return { md5: out.md5, target: dotDvc };
  }
  // dvc.lock files from the input's folder up to the DVC repository's root (the folder with .dvc/).
  for (let dir = path.dirname(abs); ; dir = path.dirname(dir)) {
    const lock = path.join(dir, 'dvc.lock');
    if (existsSync(lock)) {
      const doc = parse(await readFile(lock, 'utf8')) as { stages?: Record<string, { outs?: DvcOut[] }> } | null;
      for (const stage of Object.values(doc?.stages ?? {})) {
        const out = stage.outs?.find((o) => typeof o.path === 'string' && path.resolve(dir, o.path) === abs);
        if (out && typeof out.md5 === 'string') return { md5: out.md5, target: lock };
      }
    }
    if (existsSync(path.join(dir, '.dvc')) || path.dirname(dir) === dir) return null;
  }
}

/** Raised when `dvc pull` fails; the message carries DVC's own words. */
export class DvcPullError extends Error {
  readonly code = 'SLIPWAY_DVC_PULL_FAILED';
}

/**
 * `dvc pull` of the tracked inputs in `cwd` (their `.dvc` files, or the paths of dvc.lock outs), so
 * the job finds them on this host; DVC skips those already there.
 */
export async function dvcPull(cwd: string, inputs: Array<{ abs: string; tracked: DvcTracked }>, signal?: AbortSignal): Promise<void> {
  if (inputs.length === 0) return;
  const targets = [...new Set(inputs.map(({ abs, tracked }) => (tracked.target.endsWith('.dvc') ? tracked.target : abs)))];
  try {
    await run(findTool('dvc'), ['pull', '--quiet', ...targets], { cwd, signal, maxBuffer: 16 * 2 ** 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new DvcPullError(`dvc pull ${targets.map((t) => path.relative(cwd, t)).join(' ')} failed: ${(e.stderr || e.message).trim().split('\n').slice(-5).join('\n')}`);
  }
}
