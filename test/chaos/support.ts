// What the serving chaos tests look at: a deployment's files, who answers on the stable endpoint,
// the model versions in the real MLflow registry, and the processes left running.
import { Client, Connection } from '@temporalio/client';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeploymentState, RouterRecord } from '../../src/activities/deploy/state.js';
import type { ReleaseView } from '../../src/client/slipway-client.js';
import { afterAll, beforeAll, inject } from 'vitest';
import { SlipwayClient } from '../../src/client/slipway-client.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { processesMentioning, startWorkerProcess, type WorkerProcess } from '../support/processes.js';

export const deploymentFile = (stateDir: string, name: string, file: string) => path.join(stateDir, 'deployments', name, file);
export const readDeployment = (stateDir: string, name: string) => JSON.parse(readFileSync(deploymentFile(stateDir, name, 'state.json'), 'utf8')) as DeploymentState;
export const readRouterRecord = (stateDir: string, name: string) => JSON.parse(readFileSync(deploymentFile(stateDir, name, 'router.json'), 'utf8')) as RouterRecord;
export const pausedAt = (stateDir: string, name: string) => deploymentFile(stateDir, name, 'test-paused-at');
export const isPausedAt = (stateDir: string, name: string) => existsSync(pausedAt(stateDir, name));

/** Polls the release's status until `done`; throws naming `what` after two minutes (a bound, not a timing assertion). */
export async function waitForRelease(slipway: SlipwayClient, id: string, done: (v: ReleaseView) => boolean, what: string): Promise<ReleaseView> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(200)) {
    const v = await slipway.status(id).catch(() => undefined);
    if (v && done(v)) return v;
  }
  throw new Error(`${id}: timed out waiting for ${what}`);
}

/** The version that answered a chat request on the stable endpoint (its x-slipway-version), or null when none answered. */
export async function answeredBy(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
      signal: AbortSignal.timeout(5_000),
    });
    await res.body?.cancel();
    return res.ok ? res.headers.get('x-slipway-version') : null;
  } catch {
    return null;
  }
}

/** The versions of `model` in MLflow's registry, through its REST API (model-versions/search). */
export async function registeredVersions(mlflowUrl: string, model: string): Promise<string[]> {
  const url = `${mlflowUrl}/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent(`name='${model}'`)}`;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`MLflow answered ${res.status} to ${url}: ${await res.text()}`);
  const body = (await res.json()) as { model_versions?: Array<{ version: string }> };
  return (body.model_versions ?? []).map((v) => v.version).sort();
}

/** Model servers and Traefik processes still running for deployments under `stateDir`. */
export function servingProcesses(stateDir: string): { modelServers: string[]; routers: string[] } {
  const all = processesMentioning(stateDir);
  return { modelServers: all.filter((p) => p.includes('openai-server-main')), routers: all.filter((p) => p.includes('traefik')) };
}

/**
 * One `slipway worker` process (all roles) on the test server with its own state dir, for the whole
 * file: started before its tests, then killed and its deployments stopped. Read `slipway` in tests.
 */
export function useWorkerProcess(prefix: string): { address: string; stateDir: string; slipway: SlipwayClient } {
  const address = inject('temporalAddress');
  const setup = { address, stateDir: mkdtempSync(path.join(os.tmpdir(), prefix)), slipway: undefined as unknown as SlipwayClient };
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  beforeAll(async () => {
    connection = await Connection.connect({ address });
    setup.slipway = new SlipwayClient(new Client({ connection }));
    worker = await startWorkerProcess(['--address', address, '--state-dir', setup.stateDir], { MLFLOW_TRACKING_URI: inject('mlflowUrl') });
  });
  afterAll(async () => {
    await worker?.kill();
    await stopLocalDeployments(setup.stateDir);
    await connection?.close();
  });
  return setup;
}
