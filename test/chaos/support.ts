// What the serving chaos tests look at: a deployment's files, who answers on the stable endpoint,
// the model versions in the real MLflow registry, and the processes left running.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeploymentState, RouterRecord } from '../../src/activities/deploy/state.js';
import type { ReleaseView, SlipwayClient } from '../../src/client/slipway-client.js';
import { processesMentioning } from '../support/processes.js';

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
