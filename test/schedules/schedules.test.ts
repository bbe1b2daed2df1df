import { Client, Connection } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ScheduleView } from '../../src/client/schedules.js';
import { findTool } from '../../src/system/tools.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { writeSpec } from '../integration/fixtures.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { endpointPort } from '../support/ports.js';

const exec = promisify(execFile);
const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-sched-'));
const cliEnv = { TEMPORAL_ADDRESS: address };
// Runs on this queue are started but never picked up: enough to see what the schedule does.
const idleQueue = ['--task-queue', 'slipway-sched-idle'];

let connection: Connection;
let client: Client;
let worker: WorkerProcess | undefined;
const created = new Set<string>();

beforeAll(async () => {
  connection = await Connection.connect({ address });
  client = new Client({ connection });
  worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: inject('mlflowUrl') });
});
afterAll(async () => {
  for (const name of created) await runCli(['schedule', 'delete', name], cliEnv);
  for (const name of created) for (const id of await scheduledRuns(name, 'Running')) await client.workflow.getHandle(id).terminate('test cleanup');
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await connection?.close();
});

async function cli(...args: string[]): Promise<unknown> {
  const res = await runCli([...args, '--json'], cliEnv);
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  return JSON.parse(res.stdout);
}

async function create(name: string, spec: string, ...flags: string[]): Promise<ScheduleView> {
  const view = (await cli('schedule', 'create', name, '--spec', spec, ...flags)) as ScheduleView;
  created.add(name);
  return view;
}

const describeSchedule = async (name: string) => (await cli('schedule', 'describe', name)) as ScheduleView;

/** Runs the schedule started, found through the TemporalScheduledById search attribute Temporal sets on them. */
async function scheduledRuns(name: string, status?: string): Promise<string[]> {
  const ids: string[] = [];
  const query = `TemporalScheduledById = 'slipway:${name}'${status ? ` AND ExecutionStatus = '${status}'` : ''}`;
  for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids.sort();
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(250);
  }
}

describe('slipway schedule on the real dev server', () => {
  it('validates the spec before creating anything', async () => {
    const spec = writeSpec({ name: 'sched-bad', deployPort: 9, schedule: { overlap: 'sometimes' as 'skip' } });
    const res = await runCli(['schedule', 'create', 'bad', '--spec', spec, '--cron', '0 2 * * *'], cliEnv);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/schedule\.overlap/);
    const good = writeSpec({ name: 'sched-bad', deployPort: 9 });
    const noTiming = await runCli(['schedule', 'create', 'bad', '--spec', good], cliEnv);
    expect(noTiming.code).toBe(2);
    expect(noTiming.stderr).toMatch(/exactly one of --cron or --every/);
    const badZone = await runCli(['schedule', 'create', 'bad', '--spec', good, '--cron', '0 2 * * *', '--timezone', 'Mars/Olympus'], cliEnv);
    expect(badZone.code).toBe(2);
    expect(((await cli('schedule', 'list')) as ScheduleView[]).map((s) => s.name)).not.toContain('bad');
  });

  it('creates a nightly schedule the real temporal CLI lists; trigger runs it, and the second run reuses the trained artifact', async () => {
    const spec = writeSpec({ name: 'sched-nightly', deployPort: await endpointPort() });
    const view = await create('nightly', spec, '--cron', '0 2 * * *', '--timezone', 'Europe/Berlin', '--jitter', '10m', '--note', 'nightly retrain');
    expect(view).toMatchObject({
      scheduleId: 'slipway:nightly',
      pipeline: 'sched-nightly',
      paused: false,
      note: 'nightly retrain',
      timing: { cron: '0 2 * * *', timezone: 'Europe/Berlin', jitter: '10m' },
      policies: { overlap: 'skip', catchupWindowMs: 3_600_000, pauseOnFailure: true },
      workflowIdPrefix: 'release:sched-nightly-model:scheduled-nightly',
    });
    expect(view.nextRuns.length).toBeGreaterThan(0);
    const { stdout } = await exec(findTool('temporal'), ['schedule', 'list', '--address', address]);
    expect(stdout).toContain('slipway:nightly');
    expect(await runCli(['schedule', 'create', 'nightly', '--spec', spec, '--cron', '0 3 * * *'], cliEnv)).toMatchObject({ code: 4 });

    const results: ReleaseResult[] = [];
    for (let i = 1; i <= 2; i++) {
      await cli('schedule', 'trigger', 'nightly');
      const runs = await until('a run', () => scheduledRuns('nightly'), (ids) => ids.length === i);
      const id = runs.find((r) => !results.some((x) => x.workflowId === r))!;
      expect(id).toMatch(/^release:sched-nightly-model:scheduled-nightly-\d{4}-\d\d-\d\dT/);
      results.push((await client.workflow.getHandle(id).result()) as ReleaseResult);
    }
    expect(results.map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(results[0]!.release).toMatch(/^scheduled-nightly-/);
    expect(results[0]!.report.variants[0]!.cachedTraining).toBe(false);
    expect(results[1]!.report.variants[0]!.cachedTraining).toBe(true);

    const after = await describeSchedule('nightly');
    expect(after.recentRuns.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect((await runCli(['schedule', 'describe', 'nightly'], cliEnv)).stdout).toMatch(/completed\s+release:sched-nightly-model:scheduled-nightly-/);
  });

  it('backfill over three days starts three runs under allow_all, and one (two skipped) under skip', async () => {
    const range = ['--from', '2025-01-01T00:00:00Z', '--to', '2025-01-04T00:00:00Z'];
    const all = writeSpec({ name: 'sched-bf-all', deployPort: 9, schedule: { overlap: 'allow_all' } });
    await create('bf-all', all, '--cron', '0 2 * * *', ...idleQueue);
    await cli('schedule', 'backfill', 'bf-all', ...range);
    const runs = await until('three backfilled runs', () => scheduledRuns('bf-all'), (ids) => ids.length === 3);
    expect(runs).toEqual(['01', '02', '03'].map((d) => `release:sched-bf-all-model:scheduled-bf-all-2025-01-${d}T02:00:00Z`));

    const skip = writeSpec({ name: 'sched-bf-skip', deployPort: 9 });
    await create('bf-skip', skip, '--cron', '0 2 * * *', ...idleQueue);
    await cli('schedule', 'backfill', 'bf-skip', ...range);
    const view = await until('the backfill to be processed', () => describeSchedule('bf-skip'), (v) => v.counts.taken + v.counts.skippedOverlap === 3);
    expect(view.counts).toMatchObject({ taken: 1, skippedOverlap: 2 });
    expect(await scheduledRuns('bf-skip')).toEqual(['release:sched-bf-skip-model:scheduled-bf-skip-2025-01-01T02:00:00Z']);
  });

  it('pause stops scheduled runs (describe shows paused and the note); a manual trigger still runs; delete removes it', async () => {
    const spec = writeSpec({ name: 'sched-pause', deployPort: 9, schedule: { overlap: 'allow_all' } });
    await create('every-second', spec, '--every', '1s', ...idleQueue);
    await until('a scheduled run', () => describeSchedule('every-second'), (v) => v.counts.taken >= 1);
    await cli('schedule', 'pause', 'every-second', '--note', 'data migration');
    const paused = await until('the pause', () => describeSchedule('every-second'), (v) => v.paused);
    expect(paused.note).toBe('data migration');
    await sleep(3000); // three intervals: none may start while paused
    const later = await describeSchedule('every-second');
    expect(later.counts.taken).toBe(paused.counts.taken);
    expect((await runCli(['schedule', 'describe', 'every-second'], cliEnv)).stdout).toMatch(/PAUSED.*data migration/);

    // Temporal runs a manual trigger on a paused schedule; the schedule stays paused.
    await cli('schedule', 'trigger', 'every-second');
    const triggered = await until('the manual run', () => describeSchedule('every-second'), (v) => v.counts.taken === paused.counts.taken + 1);
    expect(triggered.paused).toBe(true);

    const unpaused = (await cli('schedule', 'unpause', 'every-second', '--note', 'migration done')) as ScheduleView;
    expect(unpaused).toMatchObject({ paused: false, note: 'migration done' });
    await cli('schedule', 'delete', 'every-second');
    created.delete('every-second');
    const { stdout } = await exec(findTool('temporal'), ['schedule', 'list', '--address', address]);
    expect(stdout).not.toContain('slipway:every-second');
    expect(await runCli(['schedule', 'describe', 'every-second'], cliEnv)).toMatchObject({ code: 3 });
    for (const id of await scheduledRuns('every-second', 'Running')) await client.workflow.getHandle(id).terminate('test cleanup');
  });
});
