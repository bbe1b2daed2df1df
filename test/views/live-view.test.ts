// The terminal views, from a release's status: the live block, the plain lines, the list table.
import { describe, expect, it } from 'vitest';
import { formatList } from '../../src/client/commands/status.js';
import { bar, EtaTracker, liveLines, plainKey, plainLine } from '../../src/client/live-view.js';
import { listedStage, type ReleaseView } from '../../src/client/slipway-client.js';

function training(step: number): ReleaseView {
  return {
    workflowId: 'release:tiny-llm:v7', pipeline: 'tiny', model: 'tiny-llm', release: 'v7', stage: 'training',
    stages: [{ stage: 'training', startedAt: '2026-01-01T00:00:00.000Z' }],
    variants: [{ name: 'lr-3e-4', stage: 'training', params: {} }],
    invalidMessages: [],
    execution: { status: 'RUNNING', runId: 'r', startTime: '2026-01-01T00:00:00.000Z' },
    progress: [{ activity: 'trainModel', attempt: 1, step, totalSteps: 1200, loss: 0.5 }],
    warnings: [],
  };
}

describe('live view', () => {
  it('draws the timeline, a progress bar with step, loss and an ETA from the rate seen', () => {
    const eta = new EtaTracker();
    const t0 = Date.parse('2026-01-01T00:01:00.000Z');
    expect(liveLines(training(300), t0, eta).join('\n')).toContain('step 300/1200 loss 0.5000 ETA …');
    const lines = liveLines(training(600), t0 + 30_000, eta);
    expect(lines[1]).toBe('  ▸ training           1m 30s …');
    // 300 steps in 30 s: 600 left take 60 s.
    expect(lines[2]).toBe(`  train lr-3e-4 ${bar(600, 1200)} step 600/1200 loss 0.5000 ETA 1m 00s`);
    expect(bar(600, 1200, 10)).toBe('[█████░░░░░]  50%');
  });

  it('shows evaluation progress and a canary weight when the status has them', () => {
    const v = training(0);
    v.stage = 'evaluating';
    v.variants[0]!.stage = 'evaluating';
    v.progress = [{ activity: 'evaluateModel', attempt: 1, done: 50, total: 199, errors: 2 }];
    v.rollout = { strategy: 'canary', canaryVersion: 'v8', stableVersion: 'v7', phase: 'paused', step: 1, steps: 5, weight: 25, analysisRuns: [], controls: [] };
    const text = liveLines(v, Date.parse('2026-01-01T00:02:00Z'), new EtaTracker()).join('\n');
    expect(text).toContain(`evaluate lr-3e-4 ${bar(50, 199)} 50/199 prompts 2 errors`);
    expect(text).toContain(`canary ${bar(25, 100)} on v8, the rest on v7 (step 2 of 5, paused)`);
  });

  it('prints a plain line only when the stage or a tenth of training changes', () => {
    expect(plainKey(training(120))).toBe(plainKey(training(230)));
    expect(plainKey(training(240))).not.toBe(plainKey(training(230)));
    expect(plainLine(training(240))).toBe('[training] trainModel step 240/1200 20% loss 0.5000');
  });

  it('lists releases as a table with their age and who is awaited', () => {
    const now = Date.parse('2026-01-03T02:00:00Z');
    const lines = formatList(
      [
        { workflowId: 'release:tiny-llm:v7', stage: 'awaiting-approval', status: 'RUNNING', startTime: '2026-01-01T00:00:00Z', awaiting: ['alice', 'bob'] },
        { workflowId: 'release:tiny-llm:v6', stage: 'completed', status: 'COMPLETED', startTime: '2026-01-03T01:57:55Z' },
        { workflowId: 'release:tiny-llm:v5', stage: 'terminated', endedIn: 'training', status: 'TERMINATED', startTime: '2026-01-03T01:59:15Z' },
      ],
      now,
    );
    expect(lines).toEqual([
      'ID                   STAGE                     AGE     AWAITING',
      'release:tiny-llm:v7  awaiting-approval         2d 02h  alice, bob',
      'release:tiny-llm:v6  completed                 2m 05s',
      'release:tiny-llm:v5  terminated (in training)  45s',
    ]);
  });

  it('lists a release ended from outside by how it ended, with the stage it was in', () => {
    expect(listedStage('awaiting-approval', 'TERMINATED')).toEqual({ stage: 'terminated', endedIn: 'awaiting-approval' });
    expect(listedStage('monitoring', 'TIMED_OUT')).toEqual({ stage: 'timed-out', endedIn: 'monitoring' });
    expect(listedStage('training', 'CANCELED')).toEqual({ stage: 'cancelled', endedIn: 'training' });
    expect(listedStage('awaiting-approval', 'RUNNING')).toEqual({ stage: 'awaiting-approval' });
    expect(listedStage('rolled-back', 'COMPLETED')).toEqual({ stage: 'rolled-back' });
  });
});
