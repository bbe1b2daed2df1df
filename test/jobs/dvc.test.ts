// DVC-tracked training inputs with real DVC (from .venv) and a local DVC remote: the cache key takes
// the md5 DVC recorded, so an unchanged tracked file is a cache hit that never reads its bytes, a
// changed one (dvc add again) is a new key, and the job's host pulls tracked inputs before launching.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digestData } from '../../src/activities/jobs/cache.js';
import { createJobActivities } from '../../src/activities/jobs/train.js';
import type { TrainInput } from '../../src/activities/jobs/types.js';
import { findTool } from '../../src/system/tools.js';
import { activityEnv, fixtureInput, localJobDeps, removeTempDirs, runActivity, tempDir } from './support.js';

const dvc = (cwd: string, ...args: string[]) => execFileSync(findTool('dvc'), args, { cwd, stdio: 'pipe', env: { ...process.env, DVC_NO_ANALYTICS: '1' } }).toString();

/** A DVC project (no git) with data.bin tracked and pushed to a local remote. */
function project(): { dir: string; stateDir: string } {
  const root = tempDir('slipway-dvc-');
  const dir = path.join(root, 'project');
  mkdirSync(dir);
  dvc(dir, 'init', '--no-scm', '-q');
  dvc(dir, 'remote', 'add', '-d', 'local', path.join(root, 'remote'));
  writeFileSync(path.join(dir, 'data.bin'), 'first version of the data\n');
  dvc(dir, 'add', '-q', 'data.bin');
  dvc(dir, 'push', '-q');
  return { dir, stateDir: path.join(root, 'state') };
}

const recordedMd5 = (dir: string) => /md5: ([0-9a-f]{32})/.exec(readFileSync(path.join(dir, 'data.bin.dvc'), 'utf8'))![1];

async function train(stateDir: string, input: TrainInput) {
  const { env } = activityEnv();
  return runActivity(env, createJobActivities(localJobDeps(stateDir)).trainModel, input);
}

afterAll(removeTempDirs);

describe('DVC-tracked training inputs', () => {
  it('are keyed by the md5 DVC recorded; a changed file (dvc add again) changes the key', async () => {
    const { dir } = project();
    const [before] = await digestData(dir, ['data.bin']);
    expect(before?.sha256).toBe(`dvc-md5:${recordedMd5(dir)}`);
    writeFileSync(path.join(dir, 'data.bin'), 'second version of the data\n');
    dvc(dir, 'add', '-q', 'data.bin');
    const [after] = await digestData(dir, ['data.bin']);
    expect(after?.sha256).toBe(`dvc-md5:${recordedMd5(dir)}`);
    expect(after?.sha256).not.toBe(before?.sha256);
  });

  it('an unchanged tracked file is a cache hit that does not read its bytes', async () => {
    const { dir, stateDir } = project();
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

  it('the job host pulls tracked inputs from the DVC remote before the job runs', async () => {
    const { dir, stateDir } = project();
    // Neither the file nor DVC's local cache is here: only the remote has the bytes.
    rmSync(path.join(dir, 'data.bin'));
    rmSync(path.join(dir, '.dvc', 'cache'), { recursive: true, force: true });
    const copy = "const fs=require('fs'),p=require('path');const out=p.join(process.env.SLIPWAY_OUTPUT_DIR,'model.bin');" +
      "fs.copyFileSync('data.bin',out);console.log(JSON.stringify({type:'artifact',path:out}))";
    const result = await train(stateDir, fixtureInput(dir, { command: [process.execPath, '-e', copy], params: {}, data: ['data.bin'] }));
    expect(readFileSync(result.artifactPath, 'utf8')).toBe('first version of the data\n');
  });
});
