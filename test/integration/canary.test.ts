// Canary rollouts end to end: the real dev server, MLflow, a worker process, Traefik as the stable
// endpoint and a real Prometheus (started here, scraping what the worker deploys), with the fake
// model server (a real HTTP server standing in for vLLM) as each version (see canary-harness.ts).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LocalDeployTarget } from '../../src/activities/deploy/local.js';
import { readState } from '../../src/activities/deploy/state.js';
import { findTool } from '../../src/system/tools.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import type { PipelineStatus } from '../../src/workflows/status.js';
import { recordHistory } from '../support/histories.js';
import { runCli } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { canaryHarness } from './canary-harness.js';

const exec = promisify(execFile);
const h = canaryHarness('canary-it');
const { address, stateDir, spec, start, status, loadLoop } = h;
const port = () => h.port;

describe('canary rollouts through Traefik, judged by Prometheus', () => {
  let stable: string;
  /** The MLflow model version of the stable deployment: where `champion` must point while a canary runs or after it is aborted. */
  let stableModel: string;

  it('the first release has nothing to compare with: it goes all at once', async () => {
    const id = await start(spec({ rollout: { strategy: 'canary', steps: [{ set_weight: 50 }] } }), 'r1');
    const result = (await h.client.workflow.getHandle(id).result()) as ReleaseResult;
    expect(result.status).toBe('completed');
    expect(result.report.rollout).toMatchObject({ phase: 'skipped' });
    stable = result.deployedVersion!;
    stableModel = result.modelVersion!;
    expect(await h.champion()).toBe(stableModel);
  }, 240_000);

  it('no traffic: the analysis is inconclusive and the rollout waits; a promote sent with `temporal workflow signal` continues it; then 60% of answers come from the canary and it completes', async () => {
    const id = await start(
      spec({
        rollout: {
          strategy: 'canary',
          steps: [{ set_weight: 20 }, { analysis: [{ name: 'errors', template: 'error-rate', interval: '2s' }] }, { set_weight: 60 }, { analysis: [{ name: 'errors', template: 'error-rate', interval: '4s', count: 2 }, { name: 'quality', quality: { dataset: 'probes.jsonl', sample: 20 }, interval: '4s' }] }],
        },
      }),
      'r2',
    );
    await h.until(id, (s) => s.rollout?.pause?.reason.startsWith('inconclusive') === true, 'the inconclusive pause', 180_000, 500);
    expect(await h.champion()).toBe(stableModel); // the champion waits for the rollout to complete
    const paused = (await status(id)).rollout!;
    expect(paused).toMatchObject({ step: 1, weight: 20, phase: 'paused' });
    expect(paused.analysisRuns[0]?.metrics[0]).toMatchObject({ name: 'errors', phase: 'inconclusive', inconclusives: 1 });

    const load = loadLoop();
    try {
      await exec(findTool('temporal'), ['workflow', 'signal', '--address', address, '--workflow-id', id, '--name', 'promote', '--input', JSON.stringify({ by: 'ops', reason: 'quiet hour' })]);
      await h.until(id, (s) => s.rollout?.weight === 60, 'weight 60', 60_000, 200);
      load.reset();
      await waitFor(async () => (await status(id)).stage !== 'canary', 'the end of the canary', 120_000, 500);
      const canary = (await status(id)).rollout!.canaryVersion;
      const total = [...load.byVersion.values()].reduce((a, b) => a + b, 0);
      const share = (load.byVersion.get(canary) ?? 0) / total;
      // Weighted round robin over two services is exact over many requests; 0.15 allows for the load measured around the switch.
      expect(total).toBeGreaterThan(50);
      expect(Math.abs(share - 0.6), `canary share ${share} of ${total}`).toBeLessThan(0.15);
    } finally {
      await load.stop();
    }
    const result = (await h.client.workflow.getHandle(id).result()) as ReleaseResult;
    expect(result.status).toBe('completed');
    expect(result.report.rollout).toMatchObject({ phase: 'completed', weight: 100 });
    expect(result.report.rollout!.controls).toMatchObject([{ action: 'promote', by: 'ops' }]);
    const last = result.report.rollout!.analysisRuns.at(-1)!;
    expect(last).toMatchObject({ phase: 'successful' });
    // An equal canary goes on: the same 20 probes right on both, z = 0.
    expect(last.metrics[1]).toMatchObject({ name: 'quality', phase: 'successful', quality: { canary: { correct: 20, n: 20 }, stable: { correct: 20, n: 20 }, z: 0, verdict: 'not-worse' } });
    expect(last.metrics[0]!.measurements.map((m) => m.value)).toEqual([0, 0]);
    // The rollout completed: the registry's champion is the version it registered, no longer the old one.
    expect(result.modelVersion).toBeDefined();
    expect(result.modelVersion).not.toBe(stableModel);
    expect(await h.champion()).toBe(result.modelVersion);
    stable = result.deployedVersion!;
    stableModel = result.modelVersion!;
    await recordHistory(h.client.workflow.getHandle(id), 'canary-inconclusive-then-promoted');
  }, 360_000);

  it('5xx on the canary: the analysis fails, all traffic goes back to stable, the champion stays, and the status names the measurement', async () => {
    const id = await start(
      spec({ failOnLoad: true, rollout: { strategy: 'canary', steps: [{ set_weight: 50 }, { analysis: [{ name: 'errors', template: 'error-rate', interval: '3s', count: 5 }] }, { set_weight: 100 }] } }),
      'r3',
    );
    let load: ReturnType<typeof loadLoop> | undefined;
    try {
      await h.until(id, (s) => s.rollout?.weight === 50, 'weight 50', 180_000, 200);
      load = loadLoop();
      const result = (await h.client.workflow.getHandle(id).result()) as ReleaseResult;
      expect(result.status).toBe('aborted');
      await recordHistory(h.client.workflow.getHandle(id), 'canary-aborted-by-analysis');
      expect(result.modelVersion).toBeUndefined(); // never registered, never champion
      expect(await h.champion()).toBe(stableModel);
      const r = result.report.rollout!;
      expect(r).toMatchObject({ phase: 'aborted', weight: 0, abort: { by: 'system:analysis' } });
      expect(r.abort!.reason).toContain('errors: 1 failed measurement');
      const failed = r.analysisRuns[0]!.metrics[0]!;
      // Aborted by the first or second measurement after the bad answers began (count is 5).
      expect(failed.taken).toBeLessThanOrEqual(2);
      expect(failed.measurements.at(-1)).toMatchObject({ phase: 'failed' });
      expect(failed.measurements.at(-1)!.value).toBeGreaterThan(0.01);
      load.reset();
      await new Promise((res) => setTimeout(res, 1_000));
      expect([...load.byVersion.keys()]).toEqual([stable]);
      expect([...load.byStatus.keys()]).toEqual([200]);
    } finally {
      await load?.stop();
    }
  }, 300_000);

  it("a latency regression on the canary: p99 over stable's is past the limit, the canary is aborted, all traffic on stable", async () => {
    const id = await start(
      spec({ slowOnLoad: true, rollout: { strategy: 'canary', steps: [{ set_weight: 50 }, { analysis: [{ name: 'latency', template: 'latency-p99', interval: '3s', count: 5 }] }, { set_weight: 100 }] } }),
      'r3b',
    );
    let load: ReturnType<typeof loadLoop> | undefined;
    try {
      await h.until(id, (s) => s.rollout?.weight === 50, 'weight 50', 180_000, 200);
      load = loadLoop();
      const result = (await h.client.workflow.getHandle(id).result()) as ReleaseResult;
      expect(result.status).toBe('aborted');
      const m = result.report.rollout!.analysisRuns[0]!.metrics[0]!;
      expect(m).toMatchObject({ name: 'latency', phase: 'failed' });
      expect(m.taken).toBeLessThanOrEqual(2);
      expect(m.measurements.at(-1)!.value).toBeGreaterThan(1.5); // canary p99 / stable p99
      expect(result.report.rollout!.abort!.reason).toContain('latency: 1 failed measurement');
      expect(await h.champion()).toBe(stableModel);
      load.reset();
      await new Promise((res) => setTimeout(res, 1_000));
      expect([...load.byVersion.keys()]).toEqual([stable]);
    } finally {
      await load?.stop();
    }
  }, 300_000);

  it('a canary that answers 30% of the probes wrong is aborted with its test statistic', async () => {
    const id = await start(spec({ wrongOnProbes: true, rollout: { strategy: 'canary', steps: [{ set_weight: 10 }, { analysis: [{ name: 'quality', quality: { dataset: 'probes.jsonl', sample: 20, confidence: 0.95 }, interval: '1s' }] }, { set_weight: 100 }] } }), 'r5');
    const result = (await h.client.workflow.getHandle(id).result()) as ReleaseResult;
    expect(result.status).toBe('aborted');
    const q = result.report.rollout!.analysisRuns[0]!.metrics[0]!;
    expect(q).toMatchObject({ phase: 'failed', quality: { canary: { correct: 14, n: 20 }, stable: { correct: 20, n: 20 }, verdict: 'worse' } });
    expect(q.quality!.z).toBeCloseTo(-2.657, 3);
    expect(await h.champion()).toBe(stableModel);
    expect(result.report.rollout!.abort!.reason).toMatch(/canary accuracy 0\.700 \(14\/20\) is worse than stable 1\.000 \(20\/20\) beyond chance: z = -2\.66 < -1\.64/);
  }, 300_000);

  it('abort during a pause puts all traffic on stable at once; a bad order is refused', async () => {
    const id = await start(spec({ rollout: { strategy: 'canary', steps: [{ set_weight: 30 }, { pause: {} }] } }), 'r4');
    await h.until(id, (s) => s.rollout?.phase === 'paused', 'the pause', 180_000, 200);
    const handle = h.client.workflow.getHandle(id);
    const env = { TEMPORAL_ADDRESS: address };
    const refused = await runCli(['rollout', 'resume', id, '--as', 'ops'], env);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/not paused by a person/);
    const shown = await runCli(['rollout', 'status', id, '--json'], env);
    expect(JSON.parse(shown.stdout)).toMatchObject({ stage: 'canary', rollout: { weight: 30, phase: 'paused', pause: { reason: 'waiting for a person to promote' } } });
    const aborted = await runCli(['rollout', 'abort', id, '--as', 'ops', '--reason', 'saw something odd'], env);
    expect(aborted.code, aborted.stderr).toBe(0);
    const result = (await handle.result()) as ReleaseResult;
    expect(result.status).toBe('aborted');
    expect(result.report.rollout).toMatchObject({ weight: 0, abort: { by: 'ops', reason: 'saw something odd' } });
    expect(await h.champion()).toBe(stableModel);
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`http://127.0.0.1:${port()}/health`);
      expect(res.headers.get('x-slipway-version')).toBe(stable);
    }
    await recordHistory(handle, 'canary-aborted-during-pause');
    const view = (await status(id)) as PipelineStatus;
    expect(view.stage).toBe('aborted');
  }, 300_000);

  it("a canary whose server dies during a pause: the worker's reconciler puts its traffic back on stable within seconds, and the next step aborts the rollout", async () => {
    const id = await start(spec({ rollout: { strategy: 'canary', steps: [{ set_weight: 30 }, { pause: {} }, { set_weight: 60 }] } }), 'r7');
    await h.until(id, (s) => s.rollout?.phase === 'paused', 'the pause', 180_000, 200);
    const target = new LocalDeployTarget({ stateDir });
    const canary = (await status(id)).rollout!.canaryVersion;
    const before = await target.status({ deploymentName: 'canary-it' });
    expect(before.weights).toEqual({ [stable]: 70, [canary]: 30 });
    process.kill(-readState(path.join(stateDir, 'deployments', 'canary-it')).versions[canary]!.pid!, 'SIGKILL'); // as an OOM kill would

    // No call of the release's moves it (it waits for a person): the worker's reconciler, every 5 s, does.
    await waitFor(async () => (await target.status({ deploymentName: 'canary-it' })).canary === null, 'the canary to lose its traffic', 30_000, 100);
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`http://127.0.0.1:${port()}/health`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-slipway-version')).toBe(stable);
    }
    expect((await status(id)).stage).toBe('canary');

    // The person moves on; set_weight 60 finds the canary gone, and the rollout ends aborted, not failed.
    expect((await runCli(['rollout', 'promote', id, '--as', 'ops'], { TEMPORAL_ADDRESS: address })).code).toBe(0);
    const handle = h.client.workflow.getHandle(id);
    const result = (await handle.result()) as ReleaseResult;
    expect(result.status).toBe('aborted');
    expect(result.report.rollout).toMatchObject({ phase: 'aborted', weight: 0, abort: { by: 'system:canary-server' } });
    expect(result.report.rollout!.abort!.reason).toMatch(new RegExp(`server \\(version ${canary}\\) is no longer running`));
    expect(result.report.error).toBeUndefined();
    expect(await h.champion()).toBe(stableModel);
    const after = await target.status({ deploymentName: 'canary-it' });
    expect(after).toMatchObject({ live: stable, canary: null, weights: { [stable]: 100 } });
    expect(after.versions.map((v) => v.version)).not.toContain(canary);
    await recordHistory(handle, 'canary-aborted-server-gone');
  }, 300_000);

  it('a worker killed in the middle of a rollout: a new one resumes at the same step with the same weights; promote --full finishes it', async () => {
    const id = await start(spec({ rollout: { strategy: 'canary', steps: [{ set_weight: 30 }, { pause: {} }, { set_weight: 70 }, { pause: {} }] } }), 'r6');
    await h.until(id, (s) => s.rollout?.phase === 'paused', 'the first pause', 180_000, 200);
    const target = new LocalDeployTarget({ stateDir });
    const canary = (await status(id)).rollout!.canaryVersion;
    expect((await target.status({ deploymentName: 'canary-it' })).weights).toEqual({ [stable]: 70, [canary]: 30 });

    await h.worker!.kill('SIGKILL');
    h.worker = await h.startWorker();
    const env = { TEMPORAL_ADDRESS: address };
    expect((await runCli(['rollout', 'promote', id, '--as', 'ops'], env)).code).toBe(0);
    await h.until(id, (s) => s.rollout?.step === 3, 'the second pause', 120_000, 200);
    expect((await status(id)).rollout).toMatchObject({ phase: 'paused', weight: 70 });
    expect((await target.status({ deploymentName: 'canary-it' })).weights).toEqual({ [stable]: 30, [canary]: 70 });

    expect((await runCli(['rollout', 'pause', id, '--as', 'ops'], env)).code).toBe(0);
    const again = await runCli(['rollout', 'pause', id, '--as', 'ops'], env);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/already paused/);
    expect((await runCli(['rollout', 'resume', id, '--as', 'ops'], env)).code).toBe(0);
    const full = await runCli(['rollout', 'promote', id, '--as', 'ops', '--full', '--json'], env);
    expect(full.code, full.stderr).toBe(0);
    const result = (await h.client.workflow.getHandle(id).result()) as ReleaseResult;
    expect(result.status).toBe('completed');
    expect(result.report.rollout!.controls.map((c) => c.action)).toEqual(['promote', 'pause', 'resume', 'promote --full']);
    expect((await target.status({ deploymentName: 'canary-it' })).weights).toEqual({ [canary]: 100 });
    expect(await h.champion()).toBe(result.modelVersion);
    expect(result.modelVersion).not.toBe(stableModel);
  }, 300_000);
});
