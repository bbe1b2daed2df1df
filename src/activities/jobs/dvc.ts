// DVC-tracked training inputs: a file or folder that DVC tracks (a `<path>.dvc` file beside it, or an
// `outs` entry of a dvc.lock) is identified by the md5 DVC recorded, so the cache key never reads
// gigabytes again; and the job's own host runs `dvc pull` for them before the job starts (withDvcPull).
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { findTool, packageRoot } from '../../system/tools.js';

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

/** The wrapper that pulls on the job's host (python/slipway-job/slipway_job/dvc_pull.py), passed as `python -c`. */
const WRAPPER = path.join(packageRoot, 'python', 'slipway-job', 'slipway_job', 'dvc_pull.py');
let wrapperText: string | undefined;

/** The event the wrapper prints when `dvc pull` failed on the job's host; the job then exits without running. */
export const DVC_PULL_FAILED = 'dvc_pull_failed';

/**
 * The job's command, run through the DVC wrapper when some inputs are tracked: on the job's own host
 * (a Ray or Slurm node, or this one for `local`), the wrapper runs `dvc pull` of their `.dvc` files
 * (or, for dvc.lock outs, their paths) in the job's cwd, then execs the command. The worker never
 * reads or moves the bytes. Without tracked inputs the command is returned as it is.
 */
export function withDvcPull(cwd: string, inputs: Array<{ abs: string; tracked: DvcTracked }>, command: string[]): string[] {
  if (inputs.length === 0) return command;
  const targets = [...new Set(inputs.map(({ abs, tracked }) => path.relative(cwd, tracked.target.endsWith('.dvc') ? tracked.target : abs)))];
  wrapperText ??= readFileSync(WRAPPER, 'utf8');
  return [findTool('python'), '-c', wrapperText, ...targets, '--', ...command];
}
