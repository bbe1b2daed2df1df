// What one promote costs on the local deploy target, and how much of it is Traefik applying the new
// routes: the ceiling on how many releases of ONE pipeline can go live per second (promotes of a
// deployment take its lock one at a time; releases of other pipelines promote in parallel).
// Per run: `--promotes` candidates of the bench's echo model server are started and promoted in
// turn (each promote: the switch intent, Traefik's new routes applied, the retired version stopped),
// then as many canary weight changes (the routes alone), with the CPU Traefik spends on each. Prints
// min / median / max over the runs of each run's median (of the CPU: each run's mean), and what that
// makes per second.
//   node --import tsx bench/promote-latency.ts [--promotes 20] [--runs 3]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalDeployTarget } from '../src/activities/deploy/local.js';
import { deploymentDir, readRouter } from '../src/activities/deploy/state.js';
import { freePort } from '../src/system/ports.js';
import { findTool } from '../src/system/tools.js';
import { cpuSeconds } from './worker-process.js';

const { values } = parseArgs({ options: { promotes: { type: 'string', default: '20' }, runs: { type: 'string', default: '3' } } });
const promotes = Number(values.promotes);
const runs = Number(values.runs);
const server = path.join(import.meta.dirname, 'fixtures', 'echo-model-server.py');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface RunFigures {
  start: number;
  promote: number;
  route: number;
  /** Traefik's CPU per route change, ms: its reload of the routes file. */
  routeCpu: number;
}

async function run(): Promise<RunFigures> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-promote-'));
  const model = path.join(stateDir, 'model.json');
  writeFileSync(model, '{}');
  const target = new LocalDeployTarget({ stateDir });
  const serve = { command: [findTool('python'), server, '--port', '{port}', '--model', '{model}'], cwd: stateDir, healthPath: '/health', startupTimeoutMs: 30_000 };
  const port = await freePort();
  const starts: number[] = [];
  const switches: number[] = [];
  const routes: number[] = [];
  let routeCpu: number;
  try {
    for (let i = 0; i < promotes; i++) {
      let t0 = performance.now();
      await target.ensureCandidate({ deploymentName: 'bench', version: `v${i}`, artifactPath: model, serve });
      starts.push(performance.now() - t0);
      t0 = performance.now();
      await target.promote({ deploymentName: 'bench', version: `v${i}`, port });
      switches.push(performance.now() - t0);
    }
    await target.ensureCandidate({ deploymentName: 'bench', version: 'canary', artifactPath: model, serve });
    const traefik = readRouter(deploymentDir(stateDir, 'bench'))!.pid;
    const cpu0 = cpuSeconds(traefik).own;
    for (let w = 1; w <= promotes; w++) {
      const t0 = performance.now();
      await target.setCanary({ deploymentName: 'bench', version: 'canary', weight: w, port });
      routes.push(performance.now() - t0);
    }
    routeCpu = ((cpuSeconds(traefik).own - cpu0) * 1000) / promotes;
  } finally {
    await target.stopAll({ deploymentName: 'bench' });
    rmSync(stateDir, { recursive: true, force: true });
  }
  return { start: median(starts), promote: median(switches), route: median(routes), routeCpu };
}

const results: RunFigures[] = [];
for (let i = 0; i < runs; i++) {
  const r = await run();
  console.log(`run ${i + 1}: median candidate start ${r.start.toFixed(1)} ms, promote ${r.promote.toFixed(1)} ms, route change alone ${r.route.toFixed(1)} ms (Traefik's CPU ${r.routeCpu.toFixed(1)} ms)`);
  results.push(r);
}
const mmm = (f: (r: (typeof results)[number]) => number) => {
  const xs = results.map(f).sort((a, b) => a - b);
  return `${xs[0]!.toFixed(1)} / ${median(xs).toFixed(1)} / ${xs.at(-1)!.toFixed(1)}`;
};
console.log(`\n${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}); ${promotes} promotes and ${promotes} route changes per run, ${runs} runs; min / median / max of each run's median`);
console.log(`candidate start (outside the lock), ms:   ${mmm((r) => r.start)}`);
console.log(`promote (under the deployment lock), ms:  ${mmm((r) => r.promote)}`);
console.log(`route change alone (Traefik applies), ms: ${mmm((r) => r.route)}`);
console.log(`Traefik's CPU per route change, ms:       ${mmm((r) => r.routeCpu)}`);
console.log(`promotes per second on one deployment:    ${mmm((r) => 1000 / r.promote)}`);
