// The training cache key covers the training code and the env: digestTree on real folders, and
// trainModel running the fixture job as a real subprocess, reusing or re-running as the inputs say.
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digestTree, trainCacheKey, TreeTooLargeError } from '../../src/activities/jobs/cache.js';
import { createJobActivities } from '../../src/activities/jobs/train.js';
import type { TrainInput } from '../../src/activities/jobs/types.js';
import { activityEnv, fixtureInput, localJobDeps, removeTempDirs, runActivity, tempDir } from './support.js';

afterAll(removeTempDirs);

/** A small training-code folder: two source files in a package. */
function codeDir(): string {
  const dir = tempDir('slipway-code-');
  mkdirSync(path.join(dir, 'pkg'));
  writeFileSync(path.join(dir, 'train.py'), 'import pkg.model\n');
  writeFileSync(path.join(dir, 'pkg', 'model.py'), 'LAYERS = 2\n');
  return dir;
}

describe('digestTree', () => {
  it('depends on file names and contents only, not on where the folder is', async () => {
    const a = codeDir();
    const b = tempDir('slipway-code-copy-');
    cpSync(a, b, { recursive: true });
    expect(await digestTree(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await digestTree(b)).toBe(await digestTree(a));
  });

  it('changes on an edit, an addition, a removal, a rename or a new link target', async () => {
    const dir = codeDir();
    const seen = new Set([await digestTree(dir)]);
    const changed = async () => {
      const d = await digestTree(dir);
      expect(seen.has(d)).toBe(false);
      seen.add(d);
    };
    writeFileSync(path.join(dir, 'pkg', 'model.py'), 'LAYERS = 3\n');
    await changed();
    writeFileSync(path.join(dir, 'pkg', 'extra.py'), '');
    await changed();
    rmSync(path.join(dir, 'pkg', 'extra.py'));
    writeFileSync(path.join(dir, 'pkg', 'renamed.py'), 'LAYERS = 3\n');
    rmSync(path.join(dir, 'pkg', 'model.py'));
    await changed();
    symlinkSync('pkg/renamed.py', path.join(dir, 'link.py'));
    await changed();
    rmSync(path.join(dir, 'link.py'));
    symlinkSync('train.py', path.join(dir, 'link.py'));
    await changed();
  });

  it('skips version control, dependencies, bytecode, the state dir and excluded paths', async () => {
    const dir = codeDir();
    const before = await digestTree(dir, { exclude: [path.join(dir, 'state')] });
    for (const skipped of ['.git', 'node_modules', '__pycache__', '.venv', '.slipway', 'state']) {
      mkdirSync(path.join(dir, skipped, 'deep'), { recursive: true });
      writeFileSync(path.join(dir, skipped, 'deep', 'f'), 'x');
    }
    writeFileSync(path.join(dir, 'pkg', 'model.cpython-311.pyc'), 'bytecode');
    expect(await digestTree(dir, { exclude: [path.join(dir, 'state')] })).toBe(before);
    expect(await digestTree(dir)).not.toBe(before); // `state` counts unless excluded
  });

  it('identifies a large file by size and mtime instead of reading it', async () => {
    const dir = codeDir();
    const weights = path.join(dir, 'weights.bin');
    const when = 1_700_000_000; // seconds; set explicitly so it can be put back exactly
    writeFileSync(weights, Buffer.alloc(17 * 2 ** 20, 1));
    utimesSync(weights, when, when);
    const before = await digestTree(dir);
    writeFileSync(weights, Buffer.alloc(17 * 2 ** 20, 2)); // same size, mtime put back: not read, so the same
    utimesSync(weights, when, when);
    expect(await digestTree(dir)).toBe(before);
    appendFileSync(weights, 'x');
    expect(await digestTree(dir)).not.toBe(before);
  });

  it('refuses a folder with too many files, naming it, and a folder that does not exist', async () => {
    const dir = codeDir();
    const err = await digestTree(dir, { maxFiles: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TreeTooLargeError);
    expect((err as Error).message).toMatch(new RegExp(`^${dir} holds more than 1 files \\(not counting .git, .*node_modules.*\\): point cwd at the code's own folder$`));
    await expect(digestTree(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('trainCacheKey', () => {
  it('changes with the code digest and the env, and not with the order of env or params keys', () => {
    const base = { command: ['python', 'train.py'], params: { a: 1, b: 'x' }, data: [], code: 'sha256:1', env: { A: '1', B: '2' }, codeVersion: 'abc' };
    const key = trainCacheKey(base);
    expect(trainCacheKey({ ...base, params: { b: 'x', a: 1 }, env: { B: '2', A: '1' } })).toBe(key);
    expect(trainCacheKey({ ...base, code: 'sha256:2' })).not.toBe(key);
    expect(trainCacheKey({ ...base, env: { A: '1', B: '3' } })).not.toBe(key);
    expect(trainCacheKey({ ...base, env: { A: '1' } })).not.toBe(key);
  });
});

describe('trainModel cache', () => {
  it('re-runs when the training code or the env changes, and reuses across runs that only leave state behind', async () => {
    const cwd = codeDir();
    const stateDir = path.join(cwd, 'state'); // inside cwd: its jobs and cache entries must not count as code
    const counter = path.join(tempDir('slipway-train-counter-'), 'runs.txt');
    const runs = () => (existsSync(counter) ? readFileSync(counter, 'utf8').trim().split('\n').length : 0);
    const train = async (over: Partial<TrainInput> = {}) => {
      const { env } = activityEnv();
      const input = fixtureInput(cwd, { env: { COUNTING_JOB_COUNTER: counter }, useCache: true, params: { steps: 3, 'step-ms': 1 }, ...over });
      return runActivity(env, createJobActivities(localJobDeps(stateDir)).trainModel, input);
    };

    const first = await train();
    expect([first.cached, runs()]).toEqual([false, 1]);
    expect(await train()).toMatchObject({ cached: true, cacheKey: first.cacheKey });
    expect(runs()).toBe(1);

    writeFileSync(path.join(cwd, 'pkg', 'model.py'), 'LAYERS = 4\n');
    const newCode = await train();
    expect(newCode.cached).toBe(false);
    expect(newCode.cacheKey).not.toBe(first.cacheKey);
    expect(runs()).toBe(2);
    expect((await train()).cached).toBe(true);

    const newEnv = await train({ env: { COUNTING_JOB_COUNTER: counter, LEARNING_RATE_SCALE: '2' } });
    expect(newEnv.cached).toBe(false);
    expect(runs()).toBe(3);
  });

  it('lets identical jobs finish at the same time in one worker: each records its entry, none fails on the other\'s temp file', async () => {
    const cwd = codeDir();
    const stateDir = path.join(tempDir('slipway-train-state-'), 'state');
    const deps = localJobDeps(stateDir);
    // Eight identical runs (same cache key) in one process, as parallel variants with equal params would be.
    const results = await Promise.all(
      Array.from({ length: 8 }, () => {
        const { env } = activityEnv();
        return runActivity(env, createJobActivities(deps).trainModel, fixtureInput(cwd, { useCache: true, params: { steps: 2, 'step-ms': 1 } }));
      }),
    );
    expect(new Set(results.map((r) => r.cacheKey)).size).toBe(1);
    expect(results.every((r) => !r.cached)).toBe(true);
    const { env } = activityEnv();
    const again = await runActivity(env, createJobActivities(deps).trainModel, fixtureInput(cwd, { useCache: true, params: { steps: 2, 'step-ms': 1 } }));
    expect(again).toMatchObject({ cached: true, cacheKey: results[0]!.cacheKey });
  });
});
