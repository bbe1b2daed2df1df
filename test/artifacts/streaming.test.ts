import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { MlflowArtifactStore } from '../../src/activities/artifacts/index.js';
import { unique } from '../mlflow/support.js';
import { sha256Of, tempDirs } from './support.js';

// Its own file, so its own process: the memory it measures is this transfer's, not other tests'.
// Loose bounds, no timing: a store that held the file in memory would need at least the whole
// file in Buffers (160 MB); streaming stays at a few chunks plus what the GC has not yet freed
// (about 32 MB of Buffers and 60 MB of RSS here, whatever the file size).
const dirs = tempDirs('streaming');
afterAll(() => dirs.cleanup());
const SIZE = 160 * 1024 * 1024;
const MiB = 1024 * 1024;

it('a 160 MB file goes up and comes down without the process ever holding it in memory', async () => {
  const file = path.join(dirs.make('src'), 'checkpoint.bin');
  const block = randomBytes(MiB);
  const fd = openSync(file, 'w');
  try {
    for (let written = 0; written < SIZE; written += block.length) writeSync(fd, block);
  } finally {
    closeSync(fd);
  }
  const before = process.memoryUsage();
  const peak = { rss: before.rss, arrayBuffers: before.arrayBuffers };
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peak.rss = Math.max(peak.rss, now.rss);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
  }, 2);
  let fetched: string;
  try {
    const config = { trackingUri: inject('mlflowUrl') };
    const ref = await new MlflowArtifactStore({ config, cacheDir: dirs.make('writer') }).put(file, `${unique('rel')}/big/checkpoint.bin`);
    fetched = await new MlflowArtifactStore({ config, cacheDir: dirs.make('reader') }).fetch(ref);
    expect(ref.size).toBe(SIZE);
  } finally {
    clearInterval(sampler);
  }
  expect(sha256Of(fetched)).toBe(sha256Of(file));
  expect(peak.arrayBuffers - before.arrayBuffers).toBeLessThan(64 * MiB);
  expect(peak.rss - before.rss).toBeLessThan(128 * MiB);
});
