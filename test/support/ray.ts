// A real single-node Ray head for the tests that need one: started in beforeAll on free ports with
// its own temp dir, stopped in afterAll (its own process group only; never `ray stop`).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startRayHead, type RunningRayHead } from '../../src/stack/ray-head.js';

/** Starts a head for the calling file; the returned getter gives its Jobs API address once it is up. */
export function useRayHead(opts: { cpus?: number; gpus?: number } = {}): () => string {
  let head: RunningRayHead | undefined;
  let logDir: string | undefined;
  beforeAll(async () => {
    logDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-ray-log-'));
    head = await startRayHead({ logFile: path.join(logDir, 'ray.log'), cpus: opts.cpus ?? 2, gpus: opts.gpus ?? 0 });
  }, 180_000);
  afterAll(async () => {
    await head?.stop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  }, 60_000);
  return () => {
    if (!head) throw new Error('the Ray head is not up (beforeAll failed?)');
    return head.address;
  };
}
