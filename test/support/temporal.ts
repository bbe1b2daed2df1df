import { Runtime, DefaultLogger, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import proto from '@temporalio/proto';
import { inject } from 'vitest';
import { STAGE_KEY } from '../../src/workflows/context.js';
import { findTool } from '../../src/system/tools.js';
import { workflowsPath } from '../../src/worker-paths.js';

let installed = false;
/** Keeps test output readable: the SDK's own logs at WARN and above only. */
export function quietRuntime(): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

/** The time-skipping test server, from the repo's .venv (its own download cannot work here). */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: findTool('temporal-test-server') } },
  });
  // The dev server registers SlipwayStage at start (--search-attribute); the test server needs it here.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: { [STAGE_KEY.name]: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
  });
  return env;
}

/** The real dev server started by the global setup. */
export async function devServerEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundles the workflow code once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  return bundle;
}
