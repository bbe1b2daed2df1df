// The orchestration worker's memory at rest with the workflow bundle `npm run build` makes, beside
// the same build bundling its workflows at start (a copy of dist/ without the bundle). Per round, on
// one Temporal dev server, each starts as `slipway worker` (all three roles), is left 5 s after it
// polls, and its RSS is read from /proc. Min / median / max over the rounds.
//   npm run build && node --import tsx bench/worker-rss.ts [--rounds 3]
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { prebuiltWorkflowBundle } from '../src/prebuilt-workflows.js';
import { startTemporalDevServer } from '../src/stack/temporal-server.js';
import { freePort } from '../src/system/ports.js';
import { packageRoot } from '../src/system/tools.js';
import { rssMiB, startBuiltWorker } from './worker-process.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);
const dist = path.join(packageRoot, 'dist');
if (!prebuiltWorkflowBundle(dist)) throw new Error('no up-to-date build in dist/: run `npm run build` first');
// Inside the checkout, so that the copy resolves the same node_modules.
const unbundled = path.join(packageRoot, 'node_modules', '.cache', 'slipway-bench-dist');
rmSync(unbundled, { recursive: true, force: true });
cpSync(dist, unbundled, { recursive: true, filter: (f) => path.basename(f) !== 'workflow-bundle.js' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-rss-'));

/** RSS of a `slipway worker` run from `codeDir`, 5 s after it polls. */
async function restingRss(codeDir: string, address: string, run: string): Promise<number> {
  const worker = await startBuiltWorker(path.join(codeDir, 'client', 'cli.js'), ['--address', address, '--state-dir', path.join(dir, run)], { stderr: 'ignore' });
  try {
    await sleep(5_000);
    return rssMiB(worker.pid!);
  } finally {
    worker.kill('SIGTERM');
    if (worker.exitCode === null) await new Promise((r) => worker.once('exit', r));
  }
}

const temporal = await startTemporalDevServer({ port: await freePort(), logFile: path.join(dir, 'temporal.log') });
try {
  const prebuilt: number[] = [];
  const atStart: number[] = [];
  for (let i = 0; i < rounds; i++) {
    prebuilt.push(await restingRss(dist, temporal.address, `prebuilt-${i}`));
    atStart.push(await restingRss(unbundled, temporal.address, `at-start-${i}`));
  }
  const mmm = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${s[0]!.toFixed(0)} / ${s[Math.floor(s.length / 2)]!.toFixed(0)} / ${s.at(-1)!.toFixed(0)}`;
  };
  console.log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${rounds} rounds; worker RSS at rest, MiB (min / median / max)`);
  console.log(`prebuilt bundle (npm run build):  ${mmm(prebuilt)}`);
  console.log(`bundled at start:                 ${mmm(atStart)}`);
} finally {
  await temporal.stop();
  rmSync(unbundled, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}
