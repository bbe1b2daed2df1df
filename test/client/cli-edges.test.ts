// What a newcomer runs into at the CLI: bad flags, finished releases, checks runs, closed pipes.
// Real dev server, real worker process, the real CLI as a subprocess.
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LightChecksInput } from '../../src/workflows/light-checks.js';
import { statusQuery } from '../../src/workflows/messages.js';
import type { Stage } from '../../src/workflows/status.js';
import { writeSpec } from '../integration/fixtures.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-'));
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
  for await (const wf of client.workflow.list({ query: "ExecutionStatus = 'Running'" })) {
    if (wf.workflowId.includes('cli-edges')) await client.workflow.getHandle(wf.workflowId).terminate('test cleanup');
  }
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await connection?.close();
});

/** One line on stderr, no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  return lines[0]!;
}

async function stageOf(id: string): Promise<Stage | undefined> {
  return (await client.workflow.getHandle(id).query(statusQuery).catch(() => undefined))?.stage;
}

describe('decisions: checked before they are sent', () => {
  // Nothing listens here: exit 2 (not 5) shows the CLI refused before connecting.
  const offline = { TEMPORAL_ADDRESS: `127.0.0.1:${9}` };

  it('an empty --as names the flag (exit 2)', async () => {
    const res = await runCli(['approve', 'release:cli-edges-model:x', '--as', ''], offline);
    expect(res.code).toBe(2);
    expect(oneLine(res.stderr)).toBe('slipway: --as: approver is required: who is deciding');
    const rollback = await runCli(['rollback', 'release:cli-edges-model:x', '--as', '  '], offline);
    expect(rollback.code).toBe(2);
    expect(oneLine(rollback.stderr)).toMatch(/^slipway: --as: requestedBy is required/);
  });

  it('a 100,000-character reason names the flag and the limit (exit 2)', async () => {
    const res = await runCli(['reject', 'release:cli-edges-model:x', '--as', 'alice', '--reason', 'x'.repeat(100_000)], offline);
    expect(res.code).toBe(2);
    expect(oneLine(res.stderr)).toMatch(/^slipway: --reason: .*2000/);
  });

  it('an unknown flag is bad input (exit 2)', async () => {
    const res = await runCli(['list', '--no-such-flag'], offline);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("unknown option '--no-such-flag'");
  });
});

describe('the CLI against the real server', () => {
  it('deciding on a finished release is refused with its final stage (exit 4); an unknown one is not found (exit 3)', async () => {
    const spec = writeSpec({ name: 'cli-edges', deployPort: await endpointPort(), approval: { approvers: ['alice'], timeout: '1h' } });
    const started = await runCli(['run', spec, '--release', 'r1', '--json'], cliEnv);
    expect(started.code, started.stderr).toBe(0);
    const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    await waitFor(async () => (await stageOf(id)) === 'awaiting-approval', 'the approval gate', 90_000, 250);
    expect((await runCli(['reject', id, '--as', 'alice', '--reason', 'not this one'], cliEnv)).code).toBe(0);
    await client.workflow.getHandle(id).result();

    const late = await runCli(['approve', id, '--as', 'alice'], cliEnv);
    expect(late.code).toBe(4);
    expect(oneLine(late.stderr)).toBe(`slipway: refused: ${id} is finished (stage rejected): there is nothing to approve. See it with \`slipway status ${id}\`.`);

    const missing = await runCli(['approve', 'release:cli-edges-model:never', '--as', 'alice'], cliEnv);
    expect(missing.code).toBe(3);
    expect(oneLine(missing.stderr)).toMatch(/^slipway: not found: /);
  });

  it('`status` of a checks run shows its report, passed or failed, not a query error', async () => {
    const run = async (name: string, checks: LightChecksInput['checks']) => {
      const workflowId = `checks:cli-edges:${name}`;
      const input: LightChecksInput = { pipeline: 'cli-edges', checks, trigger: { kind: 'code', reason: 'src/app.ts matched code rule src/**', files: ['src/app.ts'] } };
      const handle = await client.workflow.start('lightChecks', { taskQueue: 'slipway', workflowId, args: [input] });
      await handle.result().catch(() => undefined);
      return workflowId;
    };
    const ok = await run('pass', [{ name: 'lint', command: [node, '-e', 'console.log("lint ok")'], cwd: stateDir }]);
    const passed = await runCli(['status', ok], cliEnv);
    expect(passed.stderr).toBe('');
    expect(passed.code).toBe(0);
    expect(passed.stdout).toContain(`${ok}  light checks (CI)  passed  (completed)`);
    expect(passed.stdout).toContain('trigger: code: src/app.ts matched code rule src/**');
    expect(passed.stdout).toMatch(new RegExp(`✅ lint: exit 0 in [\\d.]+s, log ${path.join(stateDir, 'checks', 'checks_cli-edges_pass', 'lint.log')}`));

    const bad = await run('fail', [{ name: 'types', command: [node, '-e', 'console.error("error TS2322"); process.exit(3)'], cwd: stateDir }]);
    const failed = await runCli(['status', bad], cliEnv);
    expect(failed.code).toBe(0);
    expect(failed.stdout).toContain(`${bad}  light checks (CI)  failed  (failed)`);
    expect(failed.stdout).toMatch(/❌ types: exit 3 in [\d.]+s, log .*types\.log/);
    expect(failed.stdout).toContain('      error TS2322');
    const json = JSON.parse((await runCli(['status', bad, '--json'], cliEnv)).stdout) as { type: string; report: { passed: boolean } };
    expect(json).toMatchObject({ type: 'lightChecks', report: { passed: false } });
  });

  it('a reader that goes away (`slipway list | head`) ends the CLI quietly', async () => {
    const res = await runCli(['list', '--json'], cliEnv, { closeStdout: true });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });
});
