// trainModel across worker crashes and cancellation, with real subprocesses and a test double of the
// activity context (MockActivityEnvironment): a retry resumes from the heartbeated checkpoint and
// kills the dead worker's orphan; cancelling kills the job. test/integration/pipeline.test.ts checks
// the same on a real worker that is killed.
import { CancelledFailure } from '@temporalio/common';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { paramsToFlags, type CheckpointEvent } from '../../src/activities/jobs/backend.js';
import { LocalJobBackend } from '../../src/activities/jobs/local.js';
import { createJobActivities, type TrainHeartbeat } from '../../src/activities/jobs/train.js';
import { activityEnv, fixtureInput, isRunning, killJobGroups, localJobDeps, pidGone, runActivity, removeTempDirs, tempDir, trackJob, waitFor } from './support.js';

afterAll(() => {
  killJobGroups();
  removeTempDirs();
});

describe('trainModel retries and cancellation', () => {
  it('a retry kills the orphaned job and resumes from the heartbeated checkpoint', async () => {
    const stateDir = tempDir();
    const input = fixtureInput(stateDir, { params: { steps: 40, 'step-ms': 20, 'checkpoint-every': 4 } });
    // Attempt 1 on a worker that then dies: its job keeps running as an orphan.
    const dead = new LocalJobBackend({ stateDir });
    const orphan = await dead.launch({ name: input.jobName, command: [...input.command, ...paramsToFlags(input.params)], cwd: input.cwd, env: {} });
    trackJob(orphan.id);
    let ckpt: CheckpointEvent | undefined;
    await waitFor(async () => (ckpt = (await dead.events(orphan)).find((e): e is CheckpointEvent => e.type === 'checkpoint')) !== undefined, 'a checkpoint');
    const lastHeartbeat: TrainHeartbeat = { step: ckpt!.step + 1, loss: 0.5, checkpoint: ckpt!.path, checkpointStep: ckpt!.step, checkpointRef: null };

    // Attempt 2 on a fresh worker, with attempt 1's last heartbeat.
    const { env, logs, heartbeats } = activityEnv({ attempt: 2, heartbeatDetails: lastHeartbeat });
    const result = await runActivity(env, createJobActivities(localJobDeps(stateDir)).trainModel, input);

    expect(pidGone(Number(orphan.id))).toBe(true);
    expect(result).toMatchObject({ resumedFromStep: 4, finalStep: 40, cached: false });
    expect(result.lossByStep[0]?.step).toBe(5);
    expect(logs.find((l) => l.message === 'training job launched')?.meta).toMatchObject({ attempt: 2, resumeFrom: ckpt!.path, replaced: orphan.id });
    // Until attempt 2 writes its own checkpoint it keeps heartbeating the one it resumed from.
    expect(heartbeats[0]).toMatchObject({ checkpoint: ckpt!.path, checkpointStep: 4 });
    const log = readFileSync(result.logPath, 'utf8');
    expect(log).toContain(`resume-from=${ckpt!.path}`);
    expect(log).toContain('counting-job: starting at step 4 of 40');
  });

  it('starts over when the heartbeated checkpoint no longer exists', async () => {
    const stateDir = tempDir();
    const gone = path.join(stateDir, 'ckpt-000008.json');
    const { env, logs } = activityEnv({ attempt: 3, heartbeatDetails: { step: 9, loss: 1, checkpoint: gone, checkpointStep: 8 } });
    const result = await runActivity(env, createJobActivities(localJobDeps(stateDir)).trainModel, fixtureInput(stateDir, { params: { steps: 3, 'step-ms': 1 } }));
    expect(result).toMatchObject({ resumedFromStep: null, finalStep: 3 });
    expect(logs.some((l) => l.level === 'WARN' && l.message.includes('checkpoint is gone'))).toBe(true);
  });

  it('on another host, resumes from the checkpoint fetched from the artifact store by its URI', async () => {
    // Host A stored a checkpoint and heartbeated it; its disk is gone for host B.
    const hostA = tempDir();
    const file = path.join(hostA, 'ckpt-000006.json');
    writeFileSync(file, JSON.stringify({ step: 6, loss: 0.9 }));
    const ref = await localJobDeps(hostA).artifacts.put(file, 'job/checkpoints/ckpt-000006.json');
    const missingOnB = path.join(hostA, 'not-on-host-b', 'ckpt-000006.json');
    const details: TrainHeartbeat = { step: 7, loss: 0.9, checkpoint: missingOnB, checkpointStep: 6, checkpointRef: { ...ref, path: missingOnB } };
    const hostB = tempDir();
    const { env } = activityEnv({ attempt: 2, heartbeatDetails: details });
    const result = await runActivity(env, createJobActivities(localJobDeps(hostB)).trainModel, fixtureInput(hostB, { params: { steps: 10, 'step-ms': 1 } }));
    expect(result).toMatchObject({ resumedFromStep: 6, finalStep: 10 });
    expect(readFileSync(result.logPath, 'utf8')).toContain('counting-job: starting at step 6 of 10');
  });

  it('cancelling the activity kills the job process group and rethrows the CancelledFailure', async () => {
    const stateDir = tempDir();
    const input = fixtureInput(stateDir, { params: { steps: 100_000, 'step-ms': 10, grandchild: true } });
    const { env, heartbeats } = activityEnv();
    const running = env.run(createJobActivities({ ...localJobDeps(stateDir), heartbeatEveryMs: 500 }).trainModel, input).then(() => null, (e: unknown) => e);
    const jobDir = path.join(stateDir, 'jobs', input.jobName);
    try {
      await waitFor(() => heartbeats.some((h) => (h as TrainHeartbeat).step !== null), 'a progress heartbeat');
      const { pid } = JSON.parse(readFileSync(path.join(jobDir, 'job.pid'), 'utf8')) as { pid: number };
      const events = readFileSync(path.join(jobDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; pid?: number });
      const grandchild = events.find((e) => e.type === 'grandchild')?.pid ?? 0;
      expect(isRunning(pid) && isRunning(grandchild)).toBe(true);

      env.cancel();
      expect(await running).toBeInstanceOf(CancelledFailure);
      expect(pidGone(pid)).toBe(true);
      expect(isRunning(grandchild)).toBe(false);
    } finally {
      // A failure above must not leave a 100,000-step job running.
      if (existsSync(path.join(jobDir, 'job.pid'))) trackJob((JSON.parse(readFileSync(path.join(jobDir, 'job.pid'), 'utf8')) as { pid: number }).pid);
    }
  });
});
