// What Slipway's orchestration costs one release beyond its work, side by side in one run:
//   work    the release's work called directly, no Temporal: trainModel, deployCandidate,
//           evaluateModel, promoteVersion, smokeTest, two monitor samples an interval apart and,
//           with MLflow on, the release's MLflow records in one call (bench/release-overhead/plan.ts)
//   bare    a bare Temporal workflow calling the same activities in the same order
//   slipway the release pipeline itself, on the same workers' activities
// with MLflow off and on, rounds interleaved. Overhead = time − work; bare's overhead is Temporal's
// own scheduling. Prints min / median / max of each and the ratio of the medians.
//   node --import tsx bench/release-overhead.ts [--rounds 3] [--steps 20] [--step-ms 1]
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createServingActivities, createTrackingActivities, createTrainingActivities } from '../src/activities/index.js';
import { SlipwayClient } from '../src/client/slipway-client.js';
import { loadSpec, type LoadedSpec } from '../src/client/spec-file.js';
import { resolveRuntime } from '../src/runtime.js';
import { durationMs } from '../src/spec/schema.js';
import { startMlflowServer } from '../src/stack/mlflow-server.js';
import { startTemporalDevServer } from '../src/stack/temporal-server.js';
import { freePort } from '../src/system/ports.js';
import { createSlipwayWorkers } from '../src/worker.js';
import { safeName } from '../src/workflows/candidates.js';
import { FIXTURE_JOB } from '../test/contracts/support.js';
import { writeSpec } from '../test/integration/fixtures.js';
import { stopLocalDeployments } from '../test/support/deployments.js';
import { runPlan, type MlflowRecordInput, type PlanActivities, type ReleasePlan, type TrainedModel } from './release-overhead/plan.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, steps: { type: 'string', default: '20' }, 'step-ms': { type: 'string', default: '1' } } });
const rounds = Number(values.rounds);
const BARE_QUEUE = 'bench-bare';
const MONITOR = '200ms';

const quiet = new DefaultLogger('WARN');
Runtime.install({ logger: quiet });
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-overhead-'));
const stateDir = path.join(dir, 'state');
const [temporal, mlflow] = await Promise.all([
  startTemporalDevServer({ port: await freePort(), logFile: path.join(dir, 'temporal.log') }),
  startMlflowServer({ port: await freePort(), stateDir: path.join(dir, 'mlflow'), logFile: path.join(dir, 'mlflow.log') }),
]);
const runtime = resolveRuntime({ stateDir, mlflow: { trackingUri: mlflow.url }, env: {} });
const training = createTrainingActivities(runtime);
const serving = createServingActivities(runtime);
const tracking = createTrackingActivities(runtime);

/** The release's MLflow records, as the batched pipeline writes them, in one call. */
async function recordReleaseInMlflow(input: MlflowRecordInput & { model: TrainedModel }): Promise<void> {
  const { model } = input;
  const open = await tracking.mlflowOpenRelease({ ...input, pipelineName: input.experimentName, runId: 'bench', specParams: { release: input.workflowId }, codeVersion: 'bench' });
  const at = Date.now();
  await tracking.mlflowRecordCandidate({
    experimentId: open.experimentId,
    parentRunId: open.mlflowRunId,
    name: 'candidate-default',
    key: `${input.workflowId}/candidate/default`,
    params: {},
    tags: { 'slipway.variant': 'default' },
    endTags: { 'slipway.artifact_digest': model.artifactDigest, 'slipway.gate': 'passed' },
    metrics: [...model.lossByStep.map((p) => ({ key: 'train_loss', value: p.loss, step: p.step, timestamp: at })), ...Object.entries(model.metrics).map(([key, value]) => ({ key: `eval_${key}`, value, step: 0, timestamp: at }))],
    status: 'FINISHED',
  });
  await tracking.mlflowRecordRun({ mlflowRunId: open.mlflowRunId, texts: [{ artifactPath: 'gate-report.txt', text: 'passed' }], metrics: Object.entries(model.metrics).map(([key, value]) => ({ key, value, step: 0, timestamp: at })) });
  await tracking.mlflowRegisterRelease({ mlflowRunId: open.mlflowRunId, modelName: input.modelName, workflowId: input.workflowId, artifactPath: `model/${path.basename(model.artifactPath)}`, artifact: model.artifact });
  await tracking.mlflowRecordRun({ mlflowRunId: open.mlflowRunId, tags: { 'slipway.outcome': 'completed' }, end: 'FINISHED' });
}

const activities: PlanActivities = { ...training, ...serving, recordReleaseInMlflow };
/** The same functions called directly, each in an activity context of its own (no worker, no server). */
const direct = Object.fromEntries(
  Object.entries(activities).map(([name, fn]) => [name, (input: unknown) => new MockActivityEnvironment(undefined, { logger: quiet }).run(fn as (i: unknown) => Promise<unknown>, input)]),
) as unknown as PlanActivities;

const connection = await Connection.connect({ address: temporal.address });
const client = new Client({ connection });
const slipway = new SlipwayClient(client);
const slipwayWorkers = await createSlipwayWorkers({ address: temporal.address, namespace: 'default', stateDir, mlflow: { trackingUri: mlflow.url }, env: {} });
const bareWorker = await Worker.create({
  connection: slipwayWorkers.workers[0]!.options.connection!,
  taskQueue: BARE_QUEUE,
  workflowsPath: new URL('./release-overhead/workflow.ts', import.meta.url).pathname,
  activities,
});
const running = Promise.all([slipwayWorkers.run(), bareWorker.run()]);

type Kind = 'work' | 'bare' | 'slipway';
type Mode = 'off' | 'on';
const specs = new Map<string, LoadedSpec>();

/** One spec per kind and mode: a stable endpoint (Traefik) of its own, warm after the first release. */
async function specFor(kind: Kind, mode: Mode): Promise<LoadedSpec> {
  const key = `${kind}-${mode}`;
  if (!specs.has(key)) {
    const file = writeSpec({
      name: `overhead-${key}`,
      deployPort: await freePort(),
      train: { command: [process.execPath, FIXTURE_JOB], params: { steps: Number(values.steps), 'step-ms': Number(values['step-ms']) }, cache: false, heartbeat_timeout: '30s' },
      evaluate: { dataset: 'eval.jsonl', concurrency: 2, cache: false },
      monitor: { duration: MONITOR, interval: MONITOR },
      mlflow: { enabled: mode === 'on' },
    });
    specs.set(key, loadSpec(file));
  }
  return specs.get(key)!;
}

/** The work the pipeline does for `release` of `loaded`, as a plan for runPlan. */
function planFor(loaded: LoadedSpec, release: string): ReleasePlan {
  const { spec, dir: specDir } = loaded;
  const jobName = safeName(spec.name, release, 'default');
  const serve = { command: spec.serve.command, cwd: path.resolve(specDir, spec.serve.cwd) };
  return {
    train: { jobName, command: spec.train.command, cwd: path.resolve(specDir, spec.train.cwd), env: spec.train.env, data: spec.train.data, params: spec.train.params as Record<string, number>, codeVersion: loaded.codeVersion, useCache: false },
    deploy: { target: spec.deploy.target, deploymentName: spec.name, version: jobName, serve: { ...serve, healthPath: spec.serve.health_path, startupTimeoutMs: durationMs(spec.serve.startup_timeout) } },
    evaluate: { datasetPath: path.resolve(specDir, spec.evaluate.dataset), concurrency: spec.evaluate.concurrency, requestTimeoutMs: spec.evaluate.request_timeout_ms, maxRetries: spec.evaluate.max_retries, runKey: jobName, serve, useCache: false },
    promote: { target: spec.deploy.target, deploymentName: spec.name, version: jobName, port: spec.deploy.port },
    smoke: { cases: spec.smoke.cases, timeoutMs: spec.smoke.timeout_ms },
    monitorMs: durationMs(spec.monitor.interval),
    mlflow: spec.mlflow.enabled ? { experimentName: spec.name, modelName: spec.model.name, workflowId: `${spec.name}:${release}`, specJson: JSON.stringify(spec) } : null,
  };
}

/** What a run's history holds: activities and workflow tasks, each a round trip through Temporal (counts do not depend on load). */
async function counts(workflowId: string): Promise<string> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const activities = events.filter((e) => e.activityTaskScheduledEventAttributes).length;
  const tasks = events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
  return `${activities} activities, ${tasks} workflow tasks`;
}

const lastCounts: Record<string, string> = {};

/** One release of a kind: its wall time in ms, and the training job's own run time (launch → exit). */
async function once(kind: Kind, mode: Mode, release: string): Promise<{ ms: number; jobMs: number }> {
  const loaded = await specFor(kind, mode);
  const plan = planFor(loaded, release);
  const t0 = performance.now();
  let workflowId: string | undefined;
  if (kind === 'work') await runPlan(direct, plan, (ms) => sleep(ms));
  else if (kind === 'bare') {
    workflowId = `bare:${release}:${mode}`;
    await client.workflow.execute('bareRelease', { taskQueue: BARE_QUEUE, workflowId, args: [plan] });
  } else {
    ({ workflowId } = await slipway.start(loaded, { release }));
    const res = await slipway.result(workflowId);
    if (res.status !== 'completed') throw new Error(`${workflowId}: ${res.status}`);
  }
  const ms = performance.now() - t0;
  if (workflowId) lastCounts[`${kind}-${mode}`] = await counts(workflowId);
  return { ms, jobMs: jobRunMs(plan.train.jobName) };
}

/** From the launch line the backend writes to the job's log to the exit record its supervisor writes. */
function jobRunMs(jobName: string): number {
  const jobDir = path.join(stateDir, 'jobs', jobName);
  const launch = /\[slipway\] (\S+) launch/.exec(readFileSync(path.join(jobDir, 'job.log'), 'utf8'));
  const exits = (readFileSync(path.join(jobDir, 'job.pid'), 'utf8').match(/"token":"(\w+)"/) ?? [])[1];
  return statSync(path.join(jobDir, 'runs', `${exits}.exit`)).mtimeMs - Date.parse(launch![1]!);
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
};
const fmt = (xs: number[]) => {
  const { min, median, max } = stats(xs);
  return `${min.toFixed(0).padStart(6)} / ${median.toFixed(0).padStart(6)} / ${max.toFixed(0).padStart(6)}`;
};

const load = [os.loadavg()];
try {
  const kinds: Kind[] = ['work', 'bare', 'slipway'];
  const modes: Mode[] = ['off', 'on'];
  // A first release of each starts its Traefik and warms caches; it is not counted.
  for (const mode of modes) for (const kind of kinds) await once(kind, mode, `warmup-${kind}`);
  const times: Record<string, number[]> = {};
  const jobs: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const mode of modes) {
      for (const kind of kinds) {
        const { ms, jobMs } = await once(kind, mode, `r${r}-${kind}`);
        (times[`${kind}-${mode}`] ??= []).push(ms);
        (jobs[`${kind}-${mode}`] ??= []).push(jobMs);
      }
    }
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
  load.push(os.loadavg());
  const cpu = os.cpus();
  console.log(`${cpu.length} CPUs (${cpu[0]?.model ?? '?'}), load average ${load.map((l) => l.map((x) => x.toFixed(2)).join(' ')).join(' → ')}`);
  console.log(`${rounds} rounds; job: counting-job --steps ${values.steps} --step-ms ${values['step-ms']}; monitor ${MONITOR}; ms, min / median / max\n`);
  for (const mode of modes) {
    const t = (k: Kind) => times[`${k}-${mode}`]!;
    const over = (k: Kind) => t(k).map((x, i) => x - t('work')[i]!);
    console.log(`MLflow ${mode}`);
    console.log(`  release wall time      work ${fmt(t('work'))}   bare ${fmt(t('bare'))}   slipway ${fmt(t('slipway'))}`);
    console.log(`  training job's own run      ${fmt(jobs[`work-${mode}`]!)}`);
    console.log(`  history of one release      bare: ${lastCounts[`bare-${mode}`]}; slipway: ${lastCounts[`slipway-${mode}`]}`);
    console.log(`  overhead beyond work        bare ${fmt(over('bare'))}   slipway ${fmt(over('slipway'))}`);
    const excess = t('slipway').map((x, i) => x - t('bare')[i]!);
    const ratio = stats(over('slipway')).median / stats(over('bare')).median;
    console.log(`  slipway − bare (beyond work and Temporal's scheduling) ${fmt(excess)}   (goal < 300)`);
    console.log(`  ratio of median overheads slipway / bare: ${ratio.toFixed(2)}   (goal <= 2)\n`);
  }
} finally {
  slipwayWorkers.shutdown();
  bareWorker.shutdown();
  await running.catch(() => undefined);
  await slipwayWorkers.close();
  await connection.close();
  await stopLocalDeployments(stateDir);
  await Promise.all([temporal.stop(), mlflow.stop()]);
  rmSync(dir, { recursive: true, force: true });
}
