import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { historiesDir } from '../support/histories.js';
import { quietRuntime, workflowBundle } from '../support/temporal.js';

const files = readdirSync(historiesDir).filter((f) => f.endsWith('.json'));

/**
 * Replays histories recorded from real runs (test/histories/) against today's workflow code: a
 * change that would break running pipelines fails here, and needs `patched()`.
 */
describe('replay of recorded release histories', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
  });
  it.each(files)('%s replays without nondeterminism', async (file) => {
    quietRuntime();
    const history = JSON.parse(readFileSync(path.join(historiesDir, file), 'utf8')) as { events?: Array<{ workflowExecutionStartedEventAttributes?: { workflowId?: string } }> };
    // Replay under the run's own workflow id: workflows may read it (rollbackRelease checks it).
    const workflowId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId ?? file;
    await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId)).resolves.toBeUndefined();
  });
});
