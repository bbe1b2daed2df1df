import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { TriggerOutcome } from '../../src/client/commands/trigger.js';
import { freePort } from '../../src/system/ports.js';
import { packageRoot } from '../../src/system/tools.js';
import type { LightChecksReport } from '../../src/workflows/light-checks.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';

// The tiny-llm example's own CI, end to end: a git repository holding a copy of the example, commits
// pushed through `slipway trigger --git-range … --wait` (what examples/tiny-llm/ci/slipway.yml runs),
// the real dev server, a real worker, the example's real ruff, mypy, pytest and training.

const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-example-ci-'));
const repo = path.join(stateDir, 'repo');
const spec = path.join(repo, 'pipeline.yaml');
const NAME = 'tiny-llm-ci';
const CHECKS = ['lint', 'typecheck', 'unit', 'integration'];
const SKIP = new Set(['out', '__pycache__', '.mypy_cache', '.pytest_cache', '.ruff_cache']);

let connection: Connection;
let client: Client;
let worker: WorkerProcess | undefined;

const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], { encoding: 'utf8' });
const file = (rel: string) => path.join(repo, rel);

/** Commits `edit`'s changes and runs the CI workflow's command for that commit. */
async function push(message: string, edit: () => void) {
  edit();
  git('add', '-A');
  git('commit', '-qm', message);
  const res = await runCli(['trigger', '--spec', spec, '--git-range', 'HEAD~1..HEAD', '--wait', '--json'], { TEMPORAL_ADDRESS: address }, { timeoutMs: 540_000 });
  expect(res.stderr).toBe('');
  return { code: res.code, outcome: JSON.parse(res.stdout) as TriggerOutcome };
}

async function releaseIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query: "WorkflowType = 'releasePipeline'" })) if (wf.workflowId.startsWith(`release:${NAME}:`)) ids.push(wf.workflowId);
  return ids;
}

beforeAll(async () => {
  cpSync(path.join(packageRoot, 'examples', 'tiny-llm'), repo, { recursive: true, filter: (src) => !SKIP.has(path.basename(src)) });
  // The example's spec, ci section untouched; only what keeps a release short and self-contained here:
  // few training steps (an under-trained model, so the accuracy gate is off), no approval wait, a
  // free port, a short monitor. The full-length release is `slipway demo` (test/e2e/demo.test.ts).
  const doc = parse(readFileSync(spec, 'utf8')) as Record<string, Record<string, unknown>>;
  Object.assign(doc, { name: NAME, model: { name: NAME }, gates: { min_accuracy: 0, max_latency_ms: 10_000, max_memory_gb: 16 } });
  Object.assign(doc.train!.params as object, { steps: 30, 'checkpoint-every': 0 });
  Object.assign(doc.approval!, { required: false });
  Object.assign(doc.deploy!, { port: await freePort() });
  Object.assign(doc.monitor!, { duration: '3s', interval: '1s' });
  writeFileSync(spec, stringify(doc));
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', 'the example as shipped');

  connection = await Connection.connect({ address });
  client = new Client({ connection });
  // The checks inherit the worker's environment: one mypy cache for every run keeps the type check fast.
  worker = await startWorkerProcess(['--address', address, '--state-dir', path.join(stateDir, 'worker')], {
    MLFLOW_TRACKING_URI: inject('mlflowUrl'),
    MYPY_CACHE_DIR: path.join(stateDir, 'mypy-cache'),
  });
});

afterAll(async () => {
  for await (const wf of client.workflow.list({ query: "ExecutionStatus = 'Running'" })) {
    if (wf.workflowId.startsWith(`checks:${NAME}:`) || wf.workflowId.startsWith(`release:${NAME}:`)) await client.workflow.getHandle(wf.workflowId).terminate('test cleanup');
  }
  await worker?.kill();
  await stopLocalDeployments(path.join(stateDir, 'worker'));
  await connection?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('the tiny-llm example through its CI workflow (real checks, real training)', () => {
  const originalTest = () => readFileSync(path.join(packageRoot, 'examples/tiny-llm/tests/unit/test_data.py'), 'utf8');
  const originalData = () => readFileSync(path.join(packageRoot, 'examples/tiny-llm/train.jsonl'), 'utf8');

  it('a commit touching only a Python test runs the four light checks and nothing else; a ruff error fails lint with its output', async () => {
    const { code, outcome } = await push('a test with an unused import', () => writeFileSync(file('tests/unit/test_data.py'), originalTest().replace('import json\n', 'import json\nimport os\n')));
    expect(outcome.change.files).toEqual(['tests/unit/test_data.py']);
    expect(outcome.decision.pipeline).toBeNull();
    expect(outcome.started.map((s) => s.kind)).toEqual(['lightChecks']);
    expect(code).toBe(1); // --wait: the job fails
    expect(outcome.results).toEqual([{ workflowId: outcome.started[0]!.workflowId, status: 'FAILED', error: 'checks failed: lint (exit 1)' }]);

    const err = await client.workflow.getHandle(outcome.started[0]!.workflowId).result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).cause as unknown as { type: string; details: [LightChecksReport] };
    expect(failure.type).toBe('ChecksFailed');
    const report = failure.details[0];
    expect(report.trigger).toEqual({ kind: 'code', files: ['tests/unit/test_data.py'], reason: 'tests/unit/test_data.py matched code rule tests/**' });
    expect(report.checks.map((c) => [c.name, c.passed])).toEqual([['lint', false], ['typecheck', true], ['unit', true], ['integration', true]]);
    // Each check has its own log, with the tool's own output.
    const logs = report.checks.map((c) => readFileSync(c.logPath, 'utf8'));
    expect(new Set(report.checks.map((c) => c.logPath)).size).toBe(4);
    expect(logs[0]).toMatch(/F401 \[\*\] `os` imported but unused\n\s*--> tests\/unit\/test_data\.py:\d+:8/);
    expect(logs[1]).toMatch(/Success: no issues found in \d+ source files/);
    expect(logs[2]).toMatch(/tests\/unit\/test_data\.py::test_generator_reproduces_the_committed_files_byte_for_byte PASSED/);
    expect(logs[3]).toMatch(/test_a_streamed_answer_is_the_same_answer_in_token_chunks PASSED/);
    expect(logs[3]).toMatch(/test_train_then_serve_answers_a_chat_completion PASSED[\s\S]*2 passed/);
    expect(await releaseIds()).toEqual([]);
  }, 600_000);

  it('a commit changing train.jsonl runs the full release, with the reason in its memo, and no checks', async () => {
    const { code, outcome } = await push('drop a training row', () => writeFileSync(file('train.jsonl'), originalData().replace(/[^\n]*\n$/, '')));
    expect(outcome.decision.checks).toBeNull();
    expect(outcome.started).toEqual([{ kind: 'releasePipeline', workflowId: `release:${NAME}:ci-${outcome.change.digest}`, existing: false }]);
    expect(outcome.results).toEqual([{ workflowId: outcome.started[0]!.workflowId, status: 'COMPLETED' }]);
    expect(code).toBe(0);
    const handle = client.workflow.getHandle(outcome.started[0]!.workflowId);
    expect((await handle.describe()).memo?.trigger).toEqual({ kind: 'data', files: ['train.jsonl'], reason: 'train.jsonl matched data rule train.jsonl' });
    const result = (await handle.result()) as ReleaseResult;
    expect(result.status).toBe('completed');
  }, 600_000);

  it('a commit touching both runs both, and the four checks pass on the example as shipped', async () => {
    const { code, outcome } = await push('back to the shipped example', () => {
      writeFileSync(file('tests/unit/test_data.py'), originalTest());
      writeFileSync(file('train.jsonl'), originalData());
    });
    expect(git('status', '--porcelain')).toBe('');
    expect(git('diff', '--stat', 'HEAD~3', 'HEAD')).toBe(''); // the tree is the base commit's again
    expect(outcome.started.map((s) => s.kind)).toEqual(['lightChecks', 'releasePipeline']);
    expect(outcome.results?.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(code).toBe(0);
    const report = (await client.workflow.getHandle(outcome.started[0]!.workflowId).result()) as LightChecksReport;
    expect(report.checks.map((c) => [c.name, c.exitCode])).toEqual(CHECKS.map((n) => [n, 0]));
    expect(report.trigger.kind).toBe('code');
    const memo = (await client.workflow.getHandle(outcome.started[1]!.workflowId).describe()).memo as { trigger: { kind: string; files: string[] } };
    expect(memo.trigger).toMatchObject({ kind: 'data', files: ['train.jsonl'] });
    expect(existsSync(report.checks[0]!.logPath)).toBe(true);
  }, 600_000);
});
