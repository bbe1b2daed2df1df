import { Client, Connection } from '@temporalio/client';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mlflowConfigFromEnv } from '../../src/activities/mlflow/client.js';
import { SlipwayClient } from '../../src/client/slipway-client.js';
import { loadSpec } from '../../src/client/spec-file.js';
import { createSlipwayWorkers, type SlipwayWorkers } from '../../src/worker.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { writeSpec } from '../integration/fixtures.js';
import { quietRuntime } from '../support/temporal.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { waitFor } from '../support/wait.js';
import { endpointPort } from '../support/ports.js';

const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-notify-'));

interface Hook {
  server: Server;
  url: string;
  bodies: Array<{ text: string; slipway: { event: string; workflowId: string; uiUrl: string } }>;
}

/** A local webhook receiver (a real HTTP server standing in for Slack) answering `status`. */
async function startHook(status: number): Promise<Hook> {
  const bodies: Hook['bodies'] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(data) as Hook['bodies'][number]);
      res.writeHead(status).end(status < 300 ? 'ok' : 'boom');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

/** Every string and payload (decoded as UTF-8) in a history, to search it for what must not be there. */
function allText(x: unknown): string {
  if (x instanceof Uint8Array) return Buffer.from(x).toString('utf8');
  if (Array.isArray(x)) return x.map(allText).join(' ');
  if (x && typeof x === 'object') return Object.values(x).map(allText).join(' ');
  return String(x);
}

const address = inject('temporalAddress');
const queues = { orchestration: 'slipway-notify', serving: 'slipway-notify-serving', gpu: 'slipway-notify-gpu' };
const uiUrl = 'http://ui.example.test:8233/';
let connection: Connection;
let slipway: SlipwayClient;
let workers: SlipwayWorkers;
let running: Promise<void>;
let ok: Hook;
let failing: Hook;

beforeAll(async () => {
  quietRuntime();
  [ok, failing] = await Promise.all([startHook(200), startHook(500)]);
  workers = await createSlipwayWorkers({
    address,
    namespace: 'default',
    queues,
    stateDir,
    mlflow: mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: inject('mlflowUrl') }),
    // Webhook URLs and the UI's address live only in the worker's environment.
    env: { ...process.env, HOOK_OK: ok.url, HOOK_500: failing.url, SLIPWAY_UI_URL: uiUrl },
  });
  running = workers.run();
  connection = await Connection.connect({ address });
  slipway = new SlipwayClient(new Client({ connection }), queues);
});
afterAll(async () => {
  // A run a failed test left waiting for approval: end it so it does not outlive this file.
  if (slipway) {
    for await (const wf of slipway.client.workflow.list({ query: "ExecutionStatus = 'Running'" })) {
      if (wf.workflowId.startsWith('release:notify-')) await slipway.handle(wf.workflowId).terminate('test cleanup');
    }
  }
  workers?.shutdown();
  await running;
  await workers?.close();
  await stopLocalDeployments(stateDir);
  await connection?.close();
  ok?.server.close();
  failing?.server.close();
});

describe('webhook notifications from a real pipeline run', () => {
  it('the approval wait posts the approve command and the Temporal UI link; neither URL enters history', async () => {
    const spec = writeSpec({ name: 'notify-ok', deployPort: await endpointPort(), approval: { approvers: ['alice'], timeout: '1h' }, notify: { webhook_env: 'HOOK_OK' } });
    const { workflowId } = await slipway.start(loadSpec(spec), { release: 'n1' });
    await waitFor(() => ok.bodies.some((b) => b.slipway.event === 'awaiting-approval'), 'the awaiting-approval notification', 90_000, 200);
    const msg = ok.bodies.find((b) => b.slipway.event === 'awaiting-approval')!;
    const link = `http://ui.example.test:8233/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
    expect(workflowId).toBe('release:notify-ok-model:n1');
    expect(msg.text).toContain(`slipway approve ${workflowId} --as <you>`);
    expect(msg.text).toContain(`Temporal UI: ${link}`);
    expect(msg.slipway).toMatchObject({ workflowId, uiUrl: link });

    await slipway.approve(workflowId, { approver: 'alice', reason: 'webhook test' });
    expect(((await slipway.result(workflowId)) as ReleaseResult).status).toBe('completed');
    expect(ok.bodies.map((b) => b.slipway.event)).toEqual(['awaiting-approval', 'deployed']);
    const history = allText(await slipway.handle(workflowId).fetchHistory());
    expect(history).toContain(`slipway approve ${workflowId}`); // payloads were decoded: the check below means something
    expect(history).not.toContain('ui.example.test');
    expect(history).not.toContain(ok.url);
  });

  it('a webhook that answers 500 does not fail the run', async () => {
    const spec = writeSpec({ name: 'notify-500', deployPort: await endpointPort(), notify: { webhook_env: 'HOOK_500' } });
    const { workflowId } = await slipway.start(loadSpec(spec), { release: 'n2' });
    const result = (await slipway.result(workflowId)) as ReleaseResult;
    expect(result.status).toBe('completed');
    // The notifier reports the failure as its result (logged), it does not throw: one POST per event.
    expect(failing.bodies.map((b) => b.slipway.event)).toEqual(['deployed']);
  });
});
