// Floods: what a new user did by mistake — 28 invalid `approve` signals of 1.9 MB each, sent with the
// real `temporal` CLI to a release waiting for approval. Before, they grew its history past the
// server's limit in seconds and the server terminated the release. Now the embedded server refuses
// payloads over MAX_PAYLOAD_BYTES: every one is rejected at the door, the history stays small, the
// release keeps waiting, and a valid approval then completes it. Real dev server and worker process.
import { Client, Connection } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { SlipwayClient } from '../../src/client/slipway-client.js';
import { MAX_PAYLOAD_BYTES } from '../../src/stack/temporal-server.js';
import { findTool } from '../../src/system/tools.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { writeSpec } from '../integration/fixtures.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { endpointPort } from '../support/ports.js';

const run = promisify(execFile);
const address = inject('temporalAddress');
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-flood-'));
let worker: WorkerProcess | undefined;
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.connect({ address });
  worker = await startWorkerProcess(['--address', address, '--state-dir', path.join(dir, 'state')], { MLFLOW_TRACKING_URI: inject('mlflowUrl') });
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(path.join(dir, 'state'));
  await connection?.close();
});

it('survives 28 approve signals of 1.9 MB sent with the temporal CLI, then completes on a valid approval', async () => {
  const slipway = new SlipwayClient(new Client({ connection }));
  const spec = writeSpec({ name: 'flood', deployPort: await endpointPort(), approval: { approvers: ['alice'], timeout: '1h' }, monitor: { duration: '1s', interval: '1s' } });
  const { loadSpec } = await import('../../src/client/spec-file.js');
  const { workflowId } = await slipway.start(loadSpec(spec), { release: 'r1' });
  for (let i = 0; i < 240 && (await slipway.status(workflowId)).stage !== 'awaiting-approval'; i++) await sleep(250);
  expect((await slipway.status(workflowId)).stage).toBe('awaiting-approval');

  const big = path.join(dir, 'big.json');
  writeFileSync(big, JSON.stringify({ approver: 'mallory', reason: 'x'.repeat(1_900_000) }));
  expect(1_900_000).toBeGreaterThan(MAX_PAYLOAD_BYTES);
  const refusals = await Promise.all(
    Array.from({ length: 28 }, () =>
      run(findTool('temporal'), ['workflow', 'signal', '--address', address, '--workflow-id', workflowId, '--name', 'approve', '--input-file', big]).then(
        () => 'accepted',
        (err: { stderr?: string }) => err.stderr ?? String(err),
      ),
    ),
  );
  for (const r of refusals) expect(r).toMatch(/Blob data size exceeds limit/);

  const view = await slipway.status(workflowId);
  expect(view.execution.status).toBe('RUNNING');
  expect(view.stage).toBe('awaiting-approval');
  const history = await slipway.handle(workflowId).fetchHistory();
  const bytes = JSON.stringify(history).length;
  expect(bytes).toBeLessThan(MAX_PAYLOAD_BYTES); // none of the 53 MB got in

  await slipway.approve(workflowId, { approver: 'alice', reason: 'after the flood' });
  const res = (await slipway.result(workflowId)) as ReleaseResult;
  expect(res).toMatchObject({ status: 'completed', approval: { by: 'alice' } });
});
