// Job backends side by side: submit-to-running latency and the cost of following a job's progress,
// for `local`, `slurm` and `ray` (real single-node clusters this script starts and stops). Prints
// figures; nothing is asserted. Run: node --import tsx bench/job-backends.ts [--runs 3] [--events 500]
// [--backends local,slurm,ray]
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { JobBackend, JobHandle, JobSpec } from '../src/activities/jobs/backend.js';
import { LocalJobBackend } from '../src/activities/jobs/local.js';
import { RayJobBackend } from '../src/activities/jobs/ray.js';
import { SlurmJobBackend } from '../src/activities/jobs/slurm.js';
import { startRayHead } from '../src/stack/ray-head.js';
import { startSlurmCluster } from '../src/stack/slurm.js';
import { FIXTURE_JOB } from '../test/contracts/support.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, events: { type: 'string', default: '500' }, backends: { type: 'string', default: 'local,slurm,ray' } } });
const wanted = new Set(values.backends.split(','));
const runs = Number(values.runs);
const events = Number(values.events);
const live = (s: { state: string }) => s.state === 'running' || s.state === 'pending';

interface Figures {
  toRunning: number[];
  toFirstEvent: number[];
  /** One poll + events(from) round of the follow loop, median per run (ms). */
  followRound: number[];
  /** Reading all `events` progress lines of a finished job from the start, per event (µs). */
  perEvent: number[];
}

async function measure(make: () => JobBackend, dir: string, tag: string): Promise<Figures> {
  const backend = make();
  const f: Figures = { toRunning: [], toFirstEvent: [], followRound: [], perEvent: [] };
  for (let i = 0; i < runs; i++) {
    const spec: JobSpec = { name: `bench-${tag}-${process.pid}-${i}`, command: [process.execPath, FIXTURE_JOB, '--steps', String(events), '--step-ms', '2'], cwd: dir, env: {} };
    const t0 = performance.now();
    const handle = await backend.launch(spec);
    let running = 0;
    let first = 0;
    let cursor = 0;
    const rounds: number[] = [];
    for (;;) {
      const r0 = performance.now();
      const status = await backend.poll(handle);
      const got = await backend.events(handle, { from: cursor });
      const r1 = performance.now();
      if (cursor > 0 && live(status)) rounds.push(r1 - r0);
      cursor += got.length;
      if (!running && status.state !== 'pending') running = r1 - t0;
      if (!first && got.some((e) => e.type === 'progress')) first = r1 - t0;
      if (!live(status)) break;
      await sleep(10);
    }
    f.toRunning.push(running);
    f.toFirstEvent.push(first);
    f.followRound.push(median(rounds));
    f.perEvent.push(await readAll(make(), handle));
  }
  return f;
}

/** A fresh backend instance (a restarted worker) reads the whole finished job: µs per event. */
async function readAll(backend: JobBackend, handle: JobHandle): Promise<number> {
  const t0 = performance.now();
  const all = await backend.events(handle);
  return ((performance.now() - t0) * 1000) / Math.max(1, all.length);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (xs: number[], unit: string) => `${Math.min(...xs).toFixed(1)} / ${median(xs).toFixed(1)} / ${Math.max(...xs).toFixed(1)} ${unit}`;

const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-jobs-'));
chmodSync(dir, 0o755); // munged insists every folder above its socket is searchable by all
const stops: Array<() => Promise<void>> = [];
try {
  const results: Record<string, Figures> = {};
  if (wanted.has('local')) results.local = await measure(() => new LocalJobBackend({ stateDir: path.join(dir, 'local') }), dir, 'local');
  if (wanted.has('slurm')) {
    const cluster = await startSlurmCluster({ stateDir: path.join(dir, 'slurm') });
    stops.push(() => cluster.stop());
    results.slurm = await measure(() => new SlurmJobBackend({ stateDir: path.join(dir, 'slurm-jobs'), slurmConf: cluster.conf }), dir, 'slurm');
  }
  if (wanted.has('ray')) {
    const head = await startRayHead({ logFile: path.join(dir, 'ray.log'), cpus: 2 });
    stops.push(() => head.stop());
    results.ray = await measure(() => new RayJobBackend({ address: head.address, outputRoot: path.join(dir, 'ray-jobs') }), dir, 'ray');
  }
  console.log(`job backends, ${runs} runs each, counting-job with ${events} progress events 2 ms apart (min / median / max)`);
  const rows: Array<[string, (f: Figures) => string]> = [
    ['submit -> running (poll)', (f) => fmt(f.toRunning, 'ms')],
    ['submit -> first progress event', (f) => fmt(f.toFirstEvent, 'ms')],
    ['follow round (poll + events)', (f) => fmt(f.followRound, 'ms')],
    ['read a finished job, per event', (f) => fmt(f.perEvent, 'µs')],
  ];
  for (const [label, get] of rows) console.log(`${label.padEnd(32)} ${Object.entries(results).map(([name, f]) => `${name}: ${get(f)}`.padEnd(40)).join('  ')}`);
} finally {
  for (const stop of stops) await stop();
  rmSync(dir, { recursive: true, force: true });
}
