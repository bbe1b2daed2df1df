// The orchestration worker's workflows come prebuilt by `npm run build` (dist/workflow-bundle.js),
// so a worker started from the build does not bundle them (seconds of CPU, about 80 MiB of RSS kept).
// A stale bundle (a compiled file newer than it) is not used; a host's own workflows are bundled at
// start with Slipway's. These tests read the build, which `npm test` makes before vitest runs.
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkerOptions } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { mlflowConfigFromEnv } from '../../src/activities/mlflow/client.js';
import type { slipwayPlugin as SlipwayPlugin } from '../../src/plugin.js';
import { prebuiltWorkflowBundle } from '../../src/prebuilt-workflows.js';

const dist = path.resolve('dist');

describe('prebuiltWorkflowBundle', () => {
  const tree = (bundleAge: number, moduleAge: number) => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'slipway-prebuilt-'));
    mkdirSync(path.join(root, 'workflows'));
    const now = Date.now() / 1000;
    for (const [file, age] of [['workflows/index.js', moduleAge], ['workflow-bundle.js', bundleAge]] as const) {
      writeFileSync(path.join(root, file), '');
      utimesSync(path.join(root, file), now - age, now - age);
    }
    return root;
  };

  it('is the bundle when no compiled file is newer', () => {
    const root = tree(10, 20);
    expect(prebuiltWorkflowBundle(root)).toBe(path.join(root, 'workflow-bundle.js'));
  });

  it('is null when a compiled file is newer than the bundle (tsc ran without the bundle step)', () => {
    expect(prebuiltWorkflowBundle(tree(20, 10))).toBeNull();
  });

  it('is null when there is no bundle', () => {
    expect(prebuiltWorkflowBundle(mkdtempSync(path.join(os.tmpdir(), 'slipway-prebuilt-')))).toBeNull();
  });
});

describe('the built plugin', async () => {
  if (!existsSync(path.join(dist, 'plugin.js'))) throw new Error('no build in dist/: run `npm run build` first (npm test does)');
  const { slipwayPlugin } = (await import(path.join(dist, 'plugin.js'))) as { slipwayPlugin: typeof SlipwayPlugin };
  const plugin = slipwayPlugin({ stateDir: mkdtempSync(path.join(os.tmpdir(), 'slipway-prebuilt-state-')), mlflow: mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' }), env: {} });
  const base = { taskQueue: 'q' } as WorkerOptions;

  it('gives a worker without workflows of its own the prebuilt bundle, not a path to bundle', () => {
    const options = plugin.configureWorker!(base);
    expect(options.workflowBundle).toEqual({ codePath: path.join(dist, 'workflow-bundle.js') });
    expect(options.workflowsPath).toBeUndefined();
  });

  it("bundles a host's own workflows at start, with Slipway's", () => {
    const host = path.resolve('test/fixtures/host/workflows.ts');
    const options = plugin.configureWorker!({ ...base, workflowsPath: host });
    expect(options.workflowBundle).toBeUndefined();
    expect(options.workflowsPath).toMatch(/slipway-workflows/);
  });
});
