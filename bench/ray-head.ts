// How long a single-node Ray head takes to start, and to stop two ways, side by side in one run:
// `startRayHead().stop()` (SIGTERM, SIGKILL to the group after 2 s) against the reference, Ray's own
// orderly shutdown on SIGTERM waited out (up to --wait-s). Each test file that started its own head
// paid one start and one stop; the tests now share one head per run (test/support/shared-ray-head.ts).
//   node --import tsx bench/ray-head.ts [--rounds 3] [--wait-s 60]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRayHead } from '../src/stack/ray-head.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const rounds = arg('rounds', 3);
const waitMs = arg('wait-s', 60) * 1000;
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-ray-'));

const start: number[] = [];
const stopNew: number[] = [];
const stopRay: number[] = [];
try {
  for (let r = 0; r < rounds; r++) {
    for (const way of ['slipway', 'ray'] as const) {
      let t = performance.now();
      const head = await startRayHead({ logFile: path.join(dir, `ray-${r}-${way}.log`), cpus: 2 });
      start.push(performance.now() - t);
      t = performance.now();
      if (way === 'slipway') {
        await head.stop();
        stopNew.push(performance.now() - t);
        continue;
      }
      // The reference: SIGTERM to the head's group, then wait for the group to empty by itself.
      const pgid = head.process.child.pid!;
      process.kill(-pgid, 'SIGTERM');
      while (head.process.running && performance.now() - t < waitMs) await sleep(100);
      stopRay.push(performance.now() - t);
      await head.stop(); // whatever is left after the wait
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const mmm = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${(s[0]! / 1000).toFixed(1)} / ${(s[Math.floor(s.length / 2)]! / 1000).toFixed(1)} / ${(s.at(-1)! / 1000).toFixed(1)} s`;
};
console.log(`Ray head, ${rounds} rounds (min / median / max); a stop capped at ${waitMs / 1000} s reads as that`);
console.log('| | seconds |\n|---|---|');
console.log(`| start (ray start --head, until the Jobs API and node answer) | ${mmm(start)} |`);
console.log(`| stop: startRayHead().stop() (SIGTERM, group SIGKILL after 2 s) | ${mmm(stopNew)} |`);
console.log(`| stop: reference, Ray's own shutdown on SIGTERM | ${mmm(stopRay)} |`);
