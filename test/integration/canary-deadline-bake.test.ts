// The end of a canary's life, on the same real parts as canary.test.ts (see canary-harness.ts): the
// progress deadline aborting a step that makes no progress (while a person's pause does not count),
// and the bake after the last step, which rolls back on failure. MLflow's `champion` alias is read
// from the real registry each time.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import { recordHistory } from '../support/histories.js';
import { runCli } from '../support/processes.js';
import { canaryHarness } from './canary-harness.js';

const h = canaryHarness('canary-bake');
const { spec, start, status, loadLoop } = h;

/** The bake: the new version's 5xx rate (stable takes no traffic then) over 2 s windows. */
const bake = { analysis: [{ name: 'errors-after', template: 'error-rate', interval: '2s', count: 3, inconclusive_limit: 1 }] };

describe('the progress deadline and the bake', () => {
  let stable: string;
  let stableModel: string;

  it('the first release goes all at once and becomes champion', async () => {
    const result = (await h.client.workflow.getHandle(await start(spec({ rollout: { strategy: 'canary', steps: [{ set_weight: 50 }] } }), 'b1')).result()) as ReleaseResult;
    expect(result.status).toBe('completed');
    stable = result.deployedVersion!;
    stableModel = result.modelVersion!;
    expect(await h.champion()).toBe(stableModel);
  }, 240_000);

  it("a pause for a person outlasts the progress deadline without harm; an analysis that gets no answer within it is aborted, the champion stays", async () => {
    const id = await start(
      spec({
        hangOnProbes: true,
        rollout: { strategy: 'canary', progress_deadline: '5s', steps: [{ set_weight: 20 }, { pause: {} }, { analysis: [{ name: 'quality', quality: { dataset: 'probes.jsonl', sample: 5 }, interval: '1s' }] }, { set_weight: 100 }] },
      }),
      'b2',
    );
    await h.until(id, (s) => s.rollout?.phase === 'paused', 'the pause', 180_000, 200);
    // Argo does not time a paused rollout: waiting past the deadline for a person changes nothing.
    await sleep(8_000);
    expect((await status(id)).rollout).toMatchObject({ step: 1, phase: 'paused', weight: 20 });
    expect((await status(id)).stage).toBe('canary');

    const promoted = await runCli(['rollout', 'promote', id, '--as', 'ops'], { TEMPORAL_ADDRESS: h.address });
    expect(promoted.code, promoted.stderr).toBe(0);
    // The canary answers each probe after 20 s: no measurement comes within the 5 s deadline.
    const result = (await h.client.workflow.getHandle(id).result()) as ReleaseResult;
    expect(result.status).toBe('aborted');
    const r = result.report.rollout!;
    const reason = 'step 3/4 (analysis) made no progress within progress_deadline 5s';
    expect(r).toMatchObject({ phase: 'aborted', weight: 0, step: 2, abort: { by: 'system:progress-deadline', reason } });
    expect(r.analysisRuns).toMatchObject([{ step: 2, phase: 'failed', message: reason, metrics: [{ name: 'quality', taken: 0 }] }]);
    expect(result.modelVersion).toBeUndefined();
    expect(await h.champion()).toBe(stableModel);
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`http://127.0.0.1:${h.port}/health`);
      expect(res.headers.get('x-slipway-version')).toBe(stable);
    }
    await recordHistory(h.client.workflow.getHandle(id), 'canary-progress-deadline-aborted');
  }, 300_000);

  it('5xx from the new version once it has all the traffic: the bake fails, the release rolls back to the previous version, the champion never moves', async () => {
    const id = await start(spec({ failOnLoad: true, rollout: { strategy: 'canary', steps: [{ set_weight: 50 }], bake } }), 'b3');
    // Traffic (and so the failures) begins only once the new version has 100%.
    await h.until(id, (s) => s.rollout?.analysisRuns.at(-1)?.step === 'bake', 'the bake', 180_000, 100);
    expect((await status(id)).rollout).toMatchObject({ phase: 'completed', weight: 100 });
    expect(await h.champion()).toBe(stableModel);
    const load = loadLoop();
    try {
      const result = (await h.client.workflow.getHandle(id).result()) as ReleaseResult;
      expect(result.status).toBe('rolled-back');
      const run = result.report.rollout!.analysisRuns.at(-1)!;
      expect(run).toMatchObject({ step: 'bake', phase: 'failed', metrics: [{ name: 'errors-after', phase: 'failed' }] });
      expect(run.metrics[0]!.measurements.at(-1)!.value).toBeGreaterThan(0.5); // nearly every answer a 5xx, stable counted as 0
      expect(result.report.rollback).toMatchObject({ by: 'system:bake', automatic: true, restoredVersion: stable });
      expect(result.report.rollback!.reason).toContain('errors-after: 1 failed measurement');
      expect(result.modelVersion).toBeUndefined(); // never registered, never champion
      expect(await h.champion()).toBe(stableModel);
      load.reset();
      await sleep(1_000);
      expect([...load.byVersion.keys()]).toEqual([stable]);
      expect([...load.byStatus.keys()]).toEqual([200]);
      await recordHistory(h.client.workflow.getHandle(id), 'canary-bake-failed-rolled-back');
    } finally {
      await load.stop();
    }
  }, 300_000);

  it('a healthy new version passes the bake: the release completes and only then the champion moves to it', async () => {
    const id = await start(spec({ rollout: { strategy: 'canary', steps: [{ set_weight: 50 }], bake } }), 'b4');
    const load = loadLoop();
    try {
      await h.until(id, (s) => s.rollout?.analysisRuns.at(-1)?.step === 'bake', 'the bake', 180_000, 100);
      expect(await h.champion()).toBe(stableModel); // all traffic on the new version, but the bake has not passed yet
      const result = (await h.client.workflow.getHandle(id).result()) as ReleaseResult;
      expect(result.status).toBe('completed');
      const run = result.report.rollout!.analysisRuns.at(-1)!;
      expect(run).toMatchObject({ step: 'bake', phase: 'successful', metrics: [{ name: 'errors-after', phase: 'successful' }] });
      expect(run.metrics[0]!.measurements.filter((m) => m.phase === 'successful').map((m) => m.value)).toContain(0);
      expect(result.modelVersion).toBeDefined();
      expect(result.modelVersion).not.toBe(stableModel);
      expect(await h.champion()).toBe(result.modelVersion);
      await recordHistory(h.client.workflow.getHandle(id), 'canary-bake-passed');
    } finally {
      await load.stop();
    }
  }, 300_000);
});
