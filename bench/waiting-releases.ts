// Many releases waiting for approval on ONE worker: what they hold while they wait, and how fast
// approving them all goes. Per run, on a real Temporal dev server and a fresh `slipway worker`
// process started from the build, as `slipway worker` runs: N releases of trivial pipelines (the
// counting-job fixture trains, a stdlib Python echo server serves; all of one pipeline unless
// --pipelines says how many) run to the approval gate; then it prints the worker's RSS and the model
// server processes alive, approves every release and prints releases approved and completed per second.
//   npm run build && node --import tsx bench/waiting-releases.ts [--releases 1000] [--pipelines 1] [--runs 1] [--mlflow] [--keep-warm] [--max-cached-workflows N]
import { Client, Connection, type WorkflowClient } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { SlipwayClient } from '../src/client/slipway-client.js';
import { loadSpec } from '../src/client/spec-file.js';
import { startMlflowServer, type RunningMlflow } from '../src/stack/mlflow-server.js';
import { startTemporalDevServer } from '../src/stack/temporal-server.js';
import { freePort } from '../src/system/ports.js';
import { findTool, packageRoot } from '../src/system/tools.js';
import { writeSpec } from '../test/integration/fixtures.js';
import { endpointPort } from '../test/support/ports.js';
import { cpuSeconds, rssMiB, startBuiltWorker } from './worker-process.js';
import { prebuiltWorkflowBundle } from '../src/prebuilt-workflows.js';
import { stopLocalDeployments } from '../test/support/deployments.js';

const { values } = parseArgs({
  options: {
    releases: { type: 'string', default: '1000' },
    pipelines: { type: 'string', default: '1' },
    runs: { type: 'string', default: '1' },
    mlflow: { type: 'boolean', default: false },
    'keep-warm': { type: 'boolean', default: false },
    'max-cached-workflows': { type: 'string' },
  },
});
const releases = Number(values.releases);
const runs = Number(values.runs);
const pipelines = Number(values.pipelines);
if (![releases, runs, pipelines].every((n) => Number.isInteger(n) && n > 0)) throw new Error('--releases, --pipelines and --runs: expected positive whole numbers');
// The worker a user runs: the build, with the workflow bundle `npm run build` made (a worker run from
// source through tsx bundles at start and carries tsx, memory that users' workers do not hold).
if (!prebuiltWorkflowBundle(path.join(packageRoot, 'dist'))) throw new Error('no up-to-date build in dist/: run `npm run build` first');
const server = path.join(packageRoot, 'bench', 'fixtures', 'echo-model-server.py');
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-waiting-'));
const GOALS = { rssMiB: 1024, serversPerWaiting: 0, approvalsPerS: 20 };

/** At most `limit` of `fn` at once over 0..n-1. */
async function pooled(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

/** Live (not zombie) processes running the echo model server. */
function modelServers(): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const running = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
      if (running && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(server)) n++;
    } catch {
      // Gone while we looked.
    }
  }
  return n;
}
const count = async (wf: WorkflowClient, query: string) => (await wf.count(`WorkflowType = 'releasePipeline' AND ${query}`)).count;

async function startWorker(address: string, stateDir: string, mlflow: RunningMlflow | undefined): Promise<ChildProcess> {
  const cache = values['max-cached-workflows'] ? ['--max-cached-workflows', values['max-cached-workflows']] : [];
  return startBuiltWorker('bin/slipway.js', ['--address', address, '--state-dir', stateDir, ...cache], {
    cwd: packageRoot,
    stderr: openSync(path.join(dir, `worker-${path.basename(stateDir)}.log`), 'a'),
    env: { ...process.env, ...(mlflow ? { MLFLOW_TRACKING_URI: mlflow.url } : {}) },
  });
}

interface RunFigures {
  rssMiB: number;
  servers: number;
  waitingS: number;
  /** CPU seconds per release from the first approval to the last completion: the worker and what it started (model servers, Traefik), the Temporal server. */
  workerCpuS: number;
  /** Of workerCpuS, the worker process's own (the rest: model servers, Traefik and other processes it started). */
  workerOwnCpuS: number;
  /** Of workerCpuS, Traefik's (each release switches the stable endpoint once: one reload of its routes). */
  traefikCpuS: number;
  temporalCpuS: number;
  approvalsPerS: number;
  completedPerS: number;
  /** Activities whose first attempt did not finish (one stalled for its heartbeat timeout holds up every release behind the lock). */
  retried: number;
}

/** `<release> <activity> attempt N after: <why the attempt before failed>` for each activity retried in these releases' histories. */
async function retriedActivities(wf: WorkflowClient, ids: string[]): Promise<string[]> {
  const found: string[] = [];
  await pooled(ids.length, 16, async (i) => {
    const history = await wf.getHandle(ids[i]!).fetchHistory();
    const types = new Map<string, string>();
    for (const event of history.events ?? []) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled) types.set(String(event.eventId), scheduled.activityType?.name ?? '?');
      const started = event.activityTaskStartedEventAttributes;
      if (started && (started.attempt ?? 1) > 1) {
        found.push(`${ids[i]} ${types.get(String(started.scheduledEventId)) ?? '?'} attempt ${started.attempt} after: ${started.lastFailure?.message ?? '?'}`);
      }
    }
  });
  return found;
}

async function oneRun(run: number, temporalPid: number, address: string, slipway: SlipwayClient, wf: WorkflowClient, mlflow: RunningMlflow | undefined): Promise<RunFigures> {
  const stateDir = path.join(dir, `state-${run}`);
  const worker = await startWorker(address, stateDir, mlflow);
  try {
    const pipelineSpecs: ReturnType<typeof loadSpec>[] = [];
    for (let p = 0; p < pipelines; p++) {
      const file = writeSpec({
        name: `waiting-bench-${run}-${p}`,
        deployPort: await endpointPort(),
        train: { command: [process.execPath, path.join(packageRoot, 'test/fixtures/jobs/counting-job.mjs')], params: { steps: 3, 'step-ms': 5 } },
        // The interpreter itself: a `python3` found on PATH may be a shell shim (pyenv's costs about
        // 2.4 times the CPU of the interpreter per start), which would be charged to every release.
        serve: { command: [findTool('python'), server, '--port', '{port}', '--model', '{model}'], cwd: packageRoot },
        approval: { approvers: ['bench'], timeout: '1h', keep_candidate_warm: values['keep-warm'] },
        mlflow: { enabled: values.mlflow },
        monitor: { duration: '1s', interval: '1s' },
      });
      pipelineSpecs.push(loadSpec(file));
    }
    // One model per release: releases of one model supersede each other at the gate, but releases of
    // one pipeline (one deployment, one deployment lock) that wait side by side are what is measured.
    // With --pipelines, release i belongs to pipeline i mod N (each its own deployment and Traefik).
    const ids: string[] = [];
    const started = Date.now();
    await pooled(releases, 32, async (i) => {
      const loaded = pipelineSpecs[i % pipelines]!;
      const spec = { ...loaded, spec: { ...loaded.spec, model: { ...loaded.spec.model, name: `wb${run}-m${i}` } } };
      ids[i] = (await slipway.start(spec, { release: `r${i}` })).workflowId;
    });
    const scope = `WorkflowId STARTS_WITH 'release:wb${run}-'`;
    for (let waiting = 0; waiting < releases; ) {
      await sleep(2_000);
      waiting = await count(wf, `${scope} AND SlipwayStage = 'awaiting-approval' AND ExecutionStatus = 'Running'`);
      const failed = await count(wf, `${scope} AND ExecutionStatus != 'Running'`);
      if (failed) throw new Error(`${failed} releases ended before the approval gate (the worker's log: ${dir})`);
      process.stdout.write(`\r  run ${run + 1}: ${waiting}/${releases} awaiting approval after ${((Date.now() - started) / 1000).toFixed(0)} s   `);
    }
    const waitingS = (Date.now() - started) / 1000;
    // Let the worker settle (stops after the gate, evictions) before measuring what it holds.
    await sleep(3_000);
    const figures = { rssMiB: rssMiB(worker.pid!), servers: modelServers() };
    console.log(`\n  run ${run + 1}: all ${releases} waiting after ${waitingS.toFixed(1)} s; worker RSS ${figures.rssMiB.toFixed(0)} MiB; model server processes ${figures.servers}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

    const t0 = Date.now();
    const cpu0 = { worker: cpuSeconds(worker.pid!, 'traefik'), temporal: cpuSeconds(temporalPid).tree };
    await pooled(releases, 64, async (i) => {
      // The CLI's own path: a call that times out is sent again under its update id.
      await slipway.approve(ids[i]!, { approver: 'bench', reason: 'bench' }, { movedOn: false });
    });
    const approvedS = (Date.now() - t0) / 1000;
    for (let done = 0; done < releases; ) {
      await sleep(250);
      done = await count(wf, `${scope} AND ExecutionStatus != 'Running'`);
    }
    const doneS = (Date.now() - t0) / 1000;
    const cpu1 = { worker: cpuSeconds(worker.pid!, 'traefik'), temporal: cpuSeconds(temporalPid).tree };
    const workerCpuS = (cpu1.worker.tree - cpu0.worker.tree) / releases;
    const workerOwnCpuS = (cpu1.worker.own - cpu0.worker.own) / releases;
    const traefikCpuS = (cpu1.worker.named - cpu0.worker.named) / releases;
    const temporalCpuS = (cpu1.temporal - cpu0.temporal) / releases;
    const completed = await count(wf, `${scope} AND ExecutionStatus = 'Completed'`);
    if (completed !== releases) throw new Error(`${releases - completed} releases did not complete after approval`);
    console.log(`  run ${run + 1}: ${releases} approvals accepted in ${approvedS.toFixed(1)} s, all deployed and completed in ${doneS.toFixed(1)} s; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const retried = await retriedActivities(wf, ids);
    console.log(`  run ${run + 1}: activities that needed more than one attempt: ${retried.length}${retried.length ? `\n    ${retried.join('\n    ')}` : ''}`);
    return { ...figures, waitingS, approvalsPerS: releases / approvedS, completedPerS: releases / doneS, workerCpuS, workerOwnCpuS, traefikCpuS, temporalCpuS, retried: retried.length };
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await stopLocalDeployments(stateDir);
  }
}

const temporal = await startTemporalDevServer({ port: await freePort(), logFile: path.join(dir, 'temporal.log') });
const mlflow = values.mlflow ? await startMlflowServer({ port: await freePort(), stateDir: path.join(dir, 'mlflow'), logFile: path.join(dir, 'mlflow.log') }) : undefined;
const connection = await Connection.connect({ address: temporal.address });
const client = new Client({ connection });
const slipway = new SlipwayClient(client);
let finished = false;
try {
  const all: RunFigures[] = [];
  for (let run = 0; run < runs; run++) all.push(await oneRun(run, temporal.process.child.pid!, temporal.address, slipway, client.workflow, mlflow));
  const mmm = (pick: (f: RunFigures) => number, digits = 1) => {
    const s = all.map(pick).sort((a, b) => a - b);
    return `${s[0]!.toFixed(digits)} / ${s[Math.floor(s.length / 2)]!.toFixed(digits)} / ${s.at(-1)!.toFixed(digits)}`;
  };
  console.log(`\n${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}); ${releases} releases of ${pipelines} pipeline(s) per run, ${runs} run(s); MLflow ${values.mlflow ? 'on' : 'off'}; keep_candidate_warm ${values['keep-warm']}; max cached workflows ${values['max-cached-workflows'] ?? 'default'}`);
  console.log(`min / median / max over runs                     goal`);
  console.log(`worker RSS, all waiting (MiB):       ${mmm((f) => f.rssMiB, 0)}   < ${GOALS.rssMiB}`);
  console.log(`model servers per waiting release:   ${mmm((f) => f.servers / releases, 3)}   ${GOALS.serversPerWaiting} (plus nothing: no server was live before)`);
  console.log(`approvals accepted per second:       ${mmm((f) => f.approvalsPerS)}`);
  console.log(`releases approved → completed per s: ${mmm((f) => f.completedPerS)}   >= ${GOALS.approvalsPerS}`);
  console.log(`time to get all to the gate (s):     ${mmm((f) => f.waitingS)}`);
  console.log(`activities retried, whole run:       ${mmm((f) => f.retried, 0)}   0`);
  // What the rate can be at most with every core busy: the cores over the CPU one release takes.
  console.log(`CPU s per release, approved → completed: worker and its children ${mmm((f) => f.workerCpuS, 3)} (of which the worker process itself ${mmm((f) => f.workerOwnCpuS, 3)}, Traefik ${mmm((f) => f.traefikCpuS, 3)}), Temporal server ${mmm((f) => f.temporalCpuS, 3)}`);
  console.log(`  so at most ${mmm((f) => os.cpus().length / (f.workerCpuS + f.temporalCpuS))} releases/s on ${os.cpus().length} cores with every core busy (the bench's own client not counted)`);
  console.log(`load average at the end:             ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  finished = true;
} finally {
  await connection.close();
  await mlflow?.stop();
  await temporal.stop();
  // Kept when a run failed: the worker's log tells why.
  if (finished) rmSync(dir, { recursive: true, force: true });
}
