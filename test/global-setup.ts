import type { TestProject } from 'vitest/node';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/system/ports.js';
import { startMlflowServer } from '../src/stack/mlflow-server.js';
import { startTemporalDevServer } from '../src/stack/temporal-server.js';
import { secretsInHistories } from './support/history-secrets.js';
import { stopSharedRayHead } from './support/shared-ray-head.js';
import { ALL_TEST_SECRETS } from './support/secrets.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    mlflowUrl: string;
    servicesDir: string;
  }
}

/**
 * Starts the real servers the suite talks to: a headless `temporal server start-dev` and an
 * `mlflow server` on SQLite, each on a free loopback port; both are stopped in teardown, which
 * vitest runs also when tests fail.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-test-'));
  const [temporalPort, mlflowPort] = [await freePort(), await freePort()];
  const started = await Promise.allSettled([
    startTemporalDevServer({ port: temporalPort, logFile: path.join(dir, 'temporal.log') }),
    startMlflowServer({ port: mlflowPort, stateDir: path.join(dir, 'mlflow'), logFile: path.join(dir, 'mlflow.log') }),
  ]);
  const [temporal, mlflow] = started;
  if (temporal.status === 'rejected' || mlflow.status === 'rejected') {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    rmSync(dir, { recursive: true, force: true });
    throw temporal.status === 'rejected' ? temporal.reason : (mlflow as PromiseRejectedResult).reason;
  }
  project.provide('temporalAddress', temporal.value.address);
  project.provide('mlflowUrl', mlflow.value.url);
  // Also where servers shared by several test files keep their records (the Ray head: support/shared-ray-head.ts).
  project.provide('servicesDir', dir);
  return async () => {
    try {
      // Secrets stay with the workers: fail the suite loudly if any reached a history, or if the
      // histories cannot be read. vitest only logs an error thrown here: the exit code fails the run.
      const { leaks } = await secretsInHistories(temporal.value.address, ALL_TEST_SECRETS).catch((err: unknown) => {
        process.exitCode = 1;
        throw err;
      });
      if (leaks.length) process.exitCode = 1;
      if (leaks.length) throw new Error(`secret values found in Temporal histories of this test run:\n${leaks.join('\n')}`);
    } finally {
      await Promise.all([temporal.value.stop(), mlflow.value.stop(), stopSharedRayHead(dir)]);
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
