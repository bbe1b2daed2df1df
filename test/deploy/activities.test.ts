// The deploy activities in MockActivityEnvironment (the SDK's test double of the activity context) over real processes: typed ApplicationFailures,
// and production sampling through the stable endpoint with a model server that fails every request.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServingActivities, type ServingActivities } from '../../src/activities/index.js';
import { resolveRuntime } from '../../src/runtime.js';
import { deploymentDir, readState } from '../../src/activities/deploy/state.js';
import { LocalDeployTarget } from '../../src/activities/deploy/local.js';
import { freePort } from '../../src/system/ports.js';
import { alive, chat, fakeServe } from './helpers.js';
import { endpointPort } from '../support/ports.js';

const NAME = 'monitored';
const logs: string[] = [];
const record = (level: string) => (message: string) => void logs.push(`${level} ${message}`);
const logger: Logger = { log: (l, m) => void logs.push(`${l} ${m}`), trace: record('trace'), debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };

let stateDir: string;
let acts: ServingActivities;
let env: MockActivityEnvironment;
let stablePort: number;

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-deploy-acts-'));
  acts = createServingActivities(resolveRuntime({ stateDir, mlflow: { trackingUri: 'http://127.0.0.1:9' }, env: {} }));
  env = new MockActivityEnvironment(undefined, { logger });
  stablePort = await endpointPort();
});

afterAll(async () => {
  const target = new LocalDeployTarget({ stateDir });
  for (const name of [NAME, 'bad']) await target.stopAll({ deploymentName: name });
  rmSync(stateDir, { recursive: true, force: true });
});

/** env.run with the activity's own types (its signature infers `unknown` results). */
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => env.run(fn, ...args);
const candidate = (version: string, extra: Record<string, string> = {}) => ({ deploymentName: NAME, version, artifactPath: `/m/${version}`, serve: fakeServe, env: extra });

describe('deploy activities', () => {
  it('sampleProductionMetrics sees a failing live version as errorRate 1, then a healthy one from zero', async () => {
    const bad = await run(acts.deployCandidate, candidate('v1', { FAKE_MODEL_FAIL: '1' }));
    const { endpoint } = await run(acts.promoteVersion, { deploymentName: NAME, version: 'v1', port: stablePort });
    const first = await run(acts.sampleProductionMetrics, { endpoint, previous: null });
    expect(first).toMatchObject({ healthy: true, window: null });
    expect(first.snapshot?.version).toBe('v1');

    for (let i = 0; i < 10; i++) expect((await chat(endpoint)).status).toBe(500);
    const second = await run(acts.sampleProductionMetrics, { endpoint, previous: first.snapshot });
    expect(second.healthy).toBe(true);
    expect(second.window).toMatchObject({ requests: 10, errorRate: 1 });
    expect(second.window?.latencyP99Ms).not.toBeNull();

    // Roll forward to a healthy v2: the window restarts on the new version's counters.
    await run(acts.deployCandidate, candidate('v2'));
    await run(acts.promoteVersion, { deploymentName: NAME, version: 'v2', port: stablePort });
    for (let i = 0; i < 4; i++) expect((await chat(endpoint)).status).toBe(200);
    const third = await run(acts.sampleProductionMetrics, { endpoint, previous: second.snapshot });
    expect(third.window).toMatchObject({ requests: 4, errorRate: 0 });

    const rolledBack = await run(acts.rollbackDeployment, { deploymentName: NAME });
    expect(rolledBack).toMatchObject({ restoredVersion: 'v1', rolledBackVersion: 'v2' });
    expect(bad.endpoint).toMatch(/^http:/);
    expect(alive(readState(deploymentDir(stateDir, NAME)).versions.v1!.pid!)).toBe(true);
    expect(logs.some((l) => l.includes('deployment rolled back'))).toBe(true);
  });

  it('an unreachable endpoint is an answer (healthy: false), not a failure', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const sample = await run(acts.sampleProductionMetrics, { endpoint, previous: null });
    expect(sample).toMatchObject({ snapshot: null, healthy: false, window: null });
    expect(sample.reason).toMatch(/^unreachable: /);
  });

  it('typed failures become non-retryable ApplicationFailures', async () => {
    const serve = { ...fakeServe, command: [process.execPath, '-e', 'console.error("CUDA out of memory"); process.exit(1)'] };
    const failed = await run(acts.deployCandidate, { deploymentName: 'bad', version: 'v1', artifactPath: '/x', serve }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ApplicationFailure);
    expect(failed).toMatchObject({ type: 'ModelServerFailedToStart', nonRetryable: true });
    expect((failed as ApplicationFailure).details?.[0]).toMatchObject({ version: 'v1', logTail: expect.stringContaining('CUDA out of memory') });

    // A retried rollback activity reports the rollback it already did instead of failing.
    await run(acts.deployCandidate, candidate('v3'));
    await run(acts.promoteVersion, { deploymentName: NAME, version: 'v3', port: stablePort });
    const once = await run(acts.rollbackDeployment, { deploymentName: NAME });
    expect(await run(acts.rollbackDeployment, { deploymentName: NAME })).toEqual(once);
    expect(once).toMatchObject({ restoredVersion: 'v1', rolledBackVersion: 'v3' });
    const noPrev = await run(acts.rollbackDeployment, { deploymentName: 'bad' }).catch((e: unknown) => e);
    expect(noPrev).toMatchObject({ type: 'NoPreviousVersion', nonRetryable: true });
  });
});
