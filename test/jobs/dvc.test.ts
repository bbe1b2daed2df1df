// DVC-tracked training inputs with real DVC (from .venv) and a local DVC remote: the cache key takes
// the md5 DVC recorded, so an unchanged tracked file is a cache hit that never reads its bytes, a
// changed one (dvc add again) is a new key, and the job itself (the DVC wrapper it starts through) pulls
// tracked inputs on its own host. The Ray case is in ray-train.test.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digestData } from '../../src/activities/jobs/cache.js';
import { createJobActivities } from '../../src/activities/jobs/train.js';
import type { TrainInput } from '../../src/activities/jobs/types.js';
import { copyDataJob, dvc, dvcProject, pullWitness, recordedMd5 } from './dvc-project.js';
import { activityEnv, fixtureInput, localJobDeps, removeTempDirs, runActivity } from './support.js';

async function train(stateDir: string, input: TrainInput) {
  const { env } = activityEnv();
  return runActivity(env, createJobActivities(localJobDeps(stateDir)).trainModel, input);
}

afterAll(removeTempDirs);

describe('DVC-tracked training inputs', () => {
  it('are keyed by the md5 DVC recorded; a changed file (dvc add again) changes the key', async () => {
    const { dir } = dvcProject();
    const [before] = await digestData(dir, ['data.bin']);
    expect(before?.sha256).toBe(`dvc-md5:${recordedMd5(dir)}`);
    writeFileSync(path.join(dir, 'data.bin'), 'second version of the data\n');
    dvc(dir, 'add', '-q', 'data.bin');
    const [after] = await digestData(dir, ['data.bin']);
    expect(after?.sha256).toBe(`dvc-md5:${recordedMd5(dir)}`);
    expect(after?.sha256).not.toBe(before?.sha256);
  });

  it('an unchanged tracked file is a cache hit that does not read its bytes', async () => {
    const { dir, stateDir } = dvcProject();
    const input = fixtureInput(dir, { data: ['data.bin'], useCache: true, params: { steps: 3, 'step-ms': 5 } });
    const first = await train(stateDir, input);
    expect(first.cached).toBe(false);
    // The data becomes a named pipe nobody writes to: reading a single byte of it would hang this
    // test, while DVC's record (data.bin.dvc) is unchanged.
    rmSync(path.join(dir, 'data.bin'));
    execFileSync('mkfifo', [path.join(dir, 'data.bin')]);
    const second = await train(stateDir, input);
    expect(second).toMatchObject({ cached: true, cacheKey: first.cacheKey, artifactDigest: first.artifactDigest });
  });

  it('the job itself pulls tracked inputs from the DVC remote, in its own process, before it runs', async () => {
    const { dir, stateDir } = dvcProject();
    // Neither the file nor DVC's local cache is here: only the remote has the bytes.
    rmSync(path.join(dir, 'data.bin'));
    rmSync(path.join(dir, '.dvc', 'cache'), { recursive: true, force: true });
    const result = await train(stateDir, fixtureInput(dir, { command: copyDataJob, params: {}, data: ['data.bin'] }));
    expect(readFileSync(result.artifactPath, 'utf8')).toBe('first version of the data\n');
    // The wrapper pulled in the process that then became the job (same pid), in the job's cwd.
    const { pulled, jobPid } = pullWitness(readFileSync(result.logPath, 'utf8'));
    expect(pulled).toMatchObject({ targets: ['data.bin.dvc'], cwd: dir });
    expect(pulled?.pid).toBe(jobPid);
  });

  it('a pull that fails on the job host fails the attempt with TrainingDataMissing and DVC\'s words; the job never runs', async () => {
    const { dir, stateDir, remote } = dvcProject();
    rmSync(path.join(dir, 'data.bin'));
    rmSync(path.join(dir, '.dvc', 'cache'), { recursive: true, force: true });
    rmSync(remote, { recursive: true, force: true });
    const err = await train(stateDir, fixtureInput(dir, { command: copyDataJob, params: {}, data: ['data.bin'] })).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ type: 'TrainingDataMissing', nonRetryable: false });
    expect((err as Error).message).toMatch(/dvc pull data\.bin\.dvc failed on \S+ \(exit \d+\)/);
    expect(existsSync(path.join(dir, 'data.bin'))).toBe(false);
    const [details] = (err as { details: Array<{ exitCode: number; logPath: string }> }).details;
    expect(details?.exitCode).toBe(66);
    // The wrapper stopped before exec: the job's own first line never appeared.
    expect(pullWitness(readFileSync(details!.logPath, 'utf8')).jobPid).toBeUndefined();
  });
});
