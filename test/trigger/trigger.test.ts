import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isAlive } from '../../src/activities/jobs/process-group.js';
import type { TriggerOutcome } from '../../src/client/commands/trigger.js';
import type { PipelineSpecInput } from '../../src/spec/schema.js';
import type { LightChecksReport } from '../../src/workflows/light-checks.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { writeSpec } from '../integration/fixtures.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { waitFor } from '../support/wait.js';
import { recordHistory } from '../support/histories.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-trigger-'));
const cliEnv = { TEMPORAL_ADDRESS: address };
const node = process.execPath;

let connection: Connection;
let client: Client;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  connection = await Connection.connect({ address });
  client = new Client({ connection });
  worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: inject('mlflowUrl') });
});
afterAll(async () => {
  // Anything a failed test left running: terminate it so the next file starts clean.
  for await (const wf of client.workflow.list({ query: "ExecutionStatus = 'Running'" })) {
    if (wf.workflowId.startsWith('checks:trig-') || wf.workflowId.startsWith('release:trig-')) await client.workflow.getHandle(wf.workflowId).terminate('test cleanup');
  }
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await connection?.close();
});

const ci = (checks: NonNullable<PipelineSpecInput['ci']>['checks']) => ({ code: ['src/**', '*.md'], data: ['data/**'], model: ['model/**'], checks });
const passing = [
  { name: 'lint', command: [node, '-e', 'console.log("lint ok")'] },
  { name: 'unit', command: [node, '-e', 'console.log("12 tests passed")'] },
];

/** Writes `files` (relative to the spec's directory) and returns their absolute paths. */
function touch(spec: string, files: Record<string, string>): string[] {
  return Object.entries(files).map(([rel, text]) => {
    const abs = path.join(path.dirname(spec), rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, text);
    return abs;
  });
}

async function trigger(args: string[]): Promise<TriggerOutcome> {
  const res = await runCli(['trigger', ...args, '--json'], cliEnv);
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  return JSON.parse(res.stdout) as TriggerOutcome;
}

async function workflowIds(type: string, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowType = '${type}'` })) if (wf.workflowId.startsWith(prefix)) ids.push(wf.workflowId);
  return ids;
}

describe('slipway trigger: layered CI on the real dev server', () => {
  it('a code-only change runs only the light checks, once per change, and keeps the reason in the run', async () => {
    const spec = writeSpec({ name: 'trig-code', deployPort: await endpointPort(), ci: ci(passing) });
    const changed = touch(spec, { 'src/app.ts': 'export const x = 1;\n', 'README.md': '# hi\n' });
    const out = await trigger(['--spec', spec, '--changed', ...changed]);
    expect(out.decision.pipeline).toBeNull();
    expect(out.started).toEqual([{ kind: 'lightChecks', workflowId: `checks:trig-code:${out.change.digest}`, existing: false }]);

    const report = (await client.workflow.getHandle(out.started[0]!.workflowId).result()) as LightChecksReport;
    expect(report.passed).toBe(true);
    expect(report.checks.map((c) => [c.name, c.exitCode, c.passed])).toEqual([['lint', 0, true], ['unit', 0, true]]);
    expect(report.checks[1]!.logTail).toBe('12 tests passed');
    expect(readFileSync(report.checks[0]!.logPath, 'utf8')).toBe('lint ok\n');
    expect(report.trigger).toMatchObject({ kind: 'code', files: ['README.md', 'src/app.ts'] });
    await recordHistory(client.workflow.getHandle(out.started[0]!.workflowId), 'light-checks-passed');
    expect(report.trigger.reason).toContain('src/app.ts matched code rule src/**');
    expect(await workflowIds('releasePipeline', 'release:trig-code-model:')).toEqual([]);

    // The same change again: nothing new starts.
    const again = await trigger(['--spec', spec, '--changed', ...changed]);
    expect(again.started).toEqual([{ kind: 'lightChecks', workflowId: out.started[0]!.workflowId, existing: true, status: 'COMPLETED' }]);
    expect(await workflowIds('lightChecks', out.started[0]!.workflowId)).toHaveLength(1);
  });

  it('runs every check even after one fails, then fails with ChecksFailed carrying the report', async () => {
    const checks = [passing[0]!, { name: 'types', command: [node, '-e', 'console.error("error TS2322"); process.exit(3)'] }, passing[1]!];
    const spec = writeSpec({ name: 'trig-fail', deployPort: await endpointPort(), ci: ci(checks) });
    const out = await trigger(['--spec', spec, '--changed', ...touch(spec, { 'src/bad.ts': 'let x: number = "s";\n' })]);
    const err = await client.workflow.getHandle(out.started[0]!.workflowId).result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).cause as unknown as { type: string; details: [LightChecksReport] };
    expect(failure.type).toBe('ChecksFailed');
    expect(failure.details[0].checks.map((c) => [c.name, c.exitCode])).toEqual([['lint', 0], ['types', 3], ['unit', 0]]);
    expect(failure.details[0].checks[1]!.logTail).toBe('error TS2322');
  });

  it('a data change starts the full pipeline only, with the trigger in its memo', async () => {
    const spec = writeSpec({ name: 'trig-data', deployPort: await endpointPort(), ci: ci(passing) });
    const out = await trigger(['--spec', spec, '--changed', ...touch(spec, { 'data/extra.jsonl': '{}\n' })]);
    expect(out.decision.checks).toBeNull();
    expect(out.started).toEqual([{ kind: 'releasePipeline', workflowId: `release:trig-data-model:ci-${out.change.digest}`, existing: false }]);
    const handle = client.workflow.getHandle(out.started[0]!.workflowId);
    const memo = (await handle.describe()).memo as { trigger: { kind: string; files: string[]; reason: string } };
    expect(memo.trigger).toEqual({ kind: 'data', files: ['data/extra.jsonl'], reason: 'data/extra.jsonl matched data rule data/**' });
    expect(((await handle.result()) as ReleaseResult).status).toBe('completed');
    expect(await workflowIds('lightChecks', 'checks:trig-data:')).toEqual([]);
  });

  it('a git range touching code and model starts both; a change no rule matches starts nothing', async () => {
    const spec = writeSpec({ name: 'trig-git', deployPort: await endpointPort(), ci: ci(passing) });
    const dir = path.dirname(spec);
    const git = (...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { encoding: 'utf8' });
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'base');
    touch(spec, { 'model/config.yaml': 'layers: 2\n', 'src/train.ts': 'x\n' });
    git('add', '.');
    git('commit', '-qm', 'change');
    const out = await trigger(['--spec', spec, '--git-range', 'HEAD~1..HEAD']);
    expect(out.change.files).toEqual(['model/config.yaml', 'src/train.ts']);
    expect(out.started.map((s) => s.kind)).toEqual(['lightChecks', 'releasePipeline']);
    const results = await Promise.all(out.started.map((s) => client.workflow.getHandle(s.workflowId).result()));
    expect((results[0] as LightChecksReport).passed).toBe(true);
    expect((results[1] as ReleaseResult).status).toBe('completed');

    const none = await runCli(['trigger', '--spec', spec, '--changed', ...touch(spec, { 'notes.txt': 'n\n' })], cliEnv);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/decision: nothing to run: no changed file matches/);
    expect(none.stdout).not.toMatch(/started/);
    const bad = await runCli(['trigger', '--spec', spec, '--git-range', 'nope..HEAD'], cliEnv);
    expect(bad.code).toBe(2);
  });

  it('cancelling the checks kills the running check command', async () => {
    const pidFile = path.join(stateDir, 'slow-check.pid');
    const slow = { name: 'slow', command: [node, '-e', `require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`] };
    const spec = writeSpec({ name: 'trig-cancel', deployPort: await endpointPort(), ci: ci([slow]) });
    const out = await trigger(['--spec', spec, '--changed', ...touch(spec, { 'src/slow.ts': 'x\n' })]);
    await waitFor(() => existsSync(pidFile), 'the check to start', 60_000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    try {
      expect(isAlive(pid)).toBe(true);
      const handle = client.workflow.getHandle(out.started[0]!.workflowId);
      await handle.cancel();
      await handle.result().catch(() => undefined);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      expect(isAlive(pid)).toBe(false);
    } finally {
      // The check never ends on its own: a failure above must not leave it running.
      if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
    }
  });
});
