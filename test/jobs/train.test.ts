// The trainModel activity in the SDK's MockActivityEnvironment (a test double of the activity
// context), running the fixture job as a real subprocess: results, failures and the cache.
import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createJobActivities } from '../../src/activities/jobs/train.js';
import type { TrainInput } from '../../src/activities/jobs/types.js';
import { activityEnv, fixtureInput, localJobDeps, runActivity, removeTempDirs, tempDir } from './support.js';

const lossAt = (step: number, steps: number) => Number((2 * Math.exp((-3 * step) / steps) + 0.05).toFixed(6));

async function train(stateDir: string, input: TrainInput) {
  const { env, logs, heartbeats } = activityEnv();
  const { trainModel } = createJobActivities(localJobDeps(stateDir));
  const result = await runActivity(env, trainModel, input);
  return { result, logs, heartbeats };
}

async function trainFailure(stateDir: string, input: TrainInput): Promise<ApplicationFailure> {
  const err = await train(stateDir, input).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

afterAll(removeTempDirs);

describe('trainModel', () => {
  it('runs a job to completion: artifact, digest, loss curve, log, heartbeats', async () => {
    const stateDir = tempDir();
    const input = fixtureInput(stateDir, { params: { steps: 10, 'step-ms': 5, 'checkpoint-every': 4 } });
    const { result, logs, heartbeats } = await train(stateDir, input);

    expect(result).toMatchObject({ cached: false, resumedFromStep: null, finalStep: 10, finalLoss: lossAt(10, 10) });
    expect(result.artifactPath).toBe(path.join(stateDir, 'jobs', input.jobName, 'output', 'model.json'));
    expect(result.artifactDigest).toBe(createHash('sha256').update(readFileSync(result.artifactPath)).digest('hex'));
    expect(result.lossByStep).toEqual(Array.from({ length: 10 }, (_, i) => ({ step: i + 1, loss: lossAt(i + 1, 10) })));
    expect(result.cacheKey).toMatch(/^[0-9a-f]{64}$/);
    const log = readFileSync(result.logPath, 'utf8');
    expect(log).toContain('counting-job: starting at step 0 of 10');
    expect(log).toContain(`launch ${JSON.stringify([...input.command, '--steps', '10', '--step-ms', '5', '--checkpoint-every', '4'])}`);
    // The first heartbeat goes out as soon as the job is launched, before any progress.
    expect(heartbeats[0]).toEqual({ step: null, totalSteps: null, loss: null, checkpoint: null, checkpointStep: null, checkpointRef: null });
    // The artifact is in the artifact store under its digest; checkpoints are stored before they are heartbeated.
    expect(result.artifact).toMatchObject({ sha256: result.artifactDigest, size: readFileSync(result.artifactPath).length });
    expect(readFileSync(fileURLToPath(result.artifact.uri))).toEqual(readFileSync(result.artifactPath));
    expect(readdirSync(path.join(stateDir, 'artifacts', input.jobName, 'checkpoints')).length).toBeGreaterThan(0);
    expect(logs.map((l) => l.message)).toEqual(expect.arrayContaining(['training job launched', 'training job finished']));
  });

  it('downsamples a long loss curve to 200 points, keeping the first and last step', async () => {
    const stateDir = tempDir();
    const { result } = await train(stateDir, fixtureInput(stateDir, { params: { steps: 450, 'step-ms': 0 } }));
    expect(result.lossByStep).toHaveLength(200);
    expect(result.lossByStep[0]?.step).toBe(1);
    expect(result.lossByStep.at(-1)?.step).toBe(450);
  });

  it('puts the exit code and the log tail into a retryable TrainingJobFailed', async () => {
    const stateDir = tempDir();
    const input = fixtureInput(stateDir, { params: { steps: 10, 'step-ms': 1, 'fail-at': 5 } });
    const err = await trainFailure(stateDir, input);
    expect(err.type).toBe('TrainingJobFailed');
    expect(err.nonRetryable).toBe(false);
    expect(err.message).toBe(`training job ${input.jobName} exited with code 3: counting-job: failing at step 5 as asked`);
    const [details] = err.details as [{ exitCode: number; logTail: string; logPath: string }];
    expect(details.exitCode).toBe(3);
    expect(details.logTail).toContain('"step":4');
    expect(details.logTail.split('\n').at(-1)).toBe('counting-job: failing at step 5 as asked');
    expect(existsSync(details.logPath)).toBe(true);
  });

  it('fails when the job exits 0 without an artifact event', async () => {
    const stateDir = tempDir();
    const err = await trainFailure(stateDir, fixtureInput(stateDir, { command: ['sh', '-c', 'echo all done'], params: {} }));
    expect(err).toMatchObject({ type: 'TrainingJobFailed', nonRetryable: false });
    expect(err.message).toContain('exited with code 0 without an artifact event: all done');
  });

  it('fails without retries when the command cannot start or the data is missing', async () => {
    const stateDir = tempDir();
    const noCommand = await trainFailure(stateDir, fixtureInput(stateDir, { command: ['/no/such/python', 'train.py'] }));
    expect(noCommand).toMatchObject({ type: 'TrainingJobFailed', nonRetryable: true });
    expect(noCommand.message).toContain('/no/such/python');
    const noData = await trainFailure(stateDir, fixtureInput(stateDir, { data: ['missing.jsonl'] }));
    expect(noData).toMatchObject({ type: 'TrainingDataMissing', nonRetryable: true });
  });

  it('reuses the artifact of an identical request and misses when data or params change', async () => {
    const stateDir = tempDir();
    const cwd = tempDir('slipway-train-cwd-');
    const counter = path.join(tempDir('slipway-train-counter-'), 'runs.txt'); // outside cwd: cwd is hashed as code
    writeFileSync(path.join(cwd, 'data.jsonl'), '{"prompt":"1+1","expected":"2"}\n');
    const runs = () => (existsSync(counter) ? readFileSync(counter, 'utf8').trim().split('\n').length : 0);
    const request = (over: Partial<TrainInput> = {}) =>
      fixtureInput(cwd, { env: { COUNTING_JOB_COUNTER: counter }, data: ['data.jsonl'], useCache: true, params: { steps: 3, 'step-ms': 1 }, ...over });

    const first = (await train(stateDir, request())).result;
    expect(first.cached).toBe(false);
    expect(runs()).toBe(1);
    expect(existsSync(path.join(stateDir, 'cache', 'train', `${first.cacheKey}.json`))).toBe(true);

    const again = (await train(stateDir, request())).result;
    expect(again).toMatchObject({ cached: true, cacheKey: first.cacheKey, artifactPath: first.artifactPath, artifactDigest: first.artifactDigest, finalLoss: first.finalLoss });
    expect(runs()).toBe(1);

    expect((await train(stateDir, request({ useCache: false }))).result.cached).toBe(false);
    expect(runs()).toBe(2);

    writeFileSync(path.join(cwd, 'data.jsonl'), '{"prompt":"1+2","expected":"3"}\n');
    const newData = (await train(stateDir, request())).result;
    expect(newData.cached).toBe(false);
    expect(newData.cacheKey).not.toBe(first.cacheKey);
    expect(runs()).toBe(3);

    const newParams = (await train(stateDir, request({ params: { steps: 4, 'step-ms': 1 } }))).result;
    expect(newParams.cached).toBe(false);
    expect(runs()).toBe(4);

    // An entry whose artifact changed since is not trusted.
    writeFileSync(newParams.artifactPath, 'tampered');
    expect((await train(stateDir, request({ params: { steps: 4, 'step-ms': 1 } }))).result.cached).toBe(false);
    expect(runs()).toBe(5);
  });
});
