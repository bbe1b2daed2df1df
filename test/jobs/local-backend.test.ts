// The local job backend against real subprocesses (the fixture job stands in for a GPU job).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JobLaunchError, paramsToFlags, parseEventLine, type JobHandle } from '../../src/activities/jobs/backend.js';
import { LocalJobBackend } from '../../src/activities/jobs/local.js';
import { FIXTURE_JOB, isRunning, killJobGroups, pidGone, removeTempDirs, tempDir, trackJob, waitFor } from './support.js';

const node = process.execPath;

async function untilDone(backend: LocalJobBackend, handle: JobHandle) {
  let status = await backend.poll(handle);
  await waitFor(async () => (status = await backend.poll(handle)).state !== 'running', 'job exit');
  return status;
}

afterAll(() => {
  killJobGroups();
  removeTempDirs();
});

describe('job protocol helpers', () => {
  it('turns params into flags: values follow, true is a bare flag, false is left out', () => {
    expect(paramsToFlags({ steps: 600, size: 'small', fp16: true, compile: false })).toEqual(['--steps', '600', '--size', 'small', '--fp16']);
  });

  it('reads JSON objects with a type as events and everything else as log text', () => {
    expect(parseEventLine('{"type":"progress","step":3,"loss":0.5}')).toEqual({ type: 'progress', step: 3, loss: 0.5 });
    expect(parseEventLine('{"type":"custom","x":1}')).toEqual({ type: 'custom', x: 1 });
    expect(parseEventLine('{"type":"progress","step":"three"}')).toBeNull();
    expect(parseEventLine('{"no_type":1}')).toBeNull();
    expect(parseEventLine('epoch 3 {not json')).toBeNull();
    expect(parseEventLine('[1,2]')).toBeNull();
  });
});

describe('LocalJobBackend', () => {
  it('runs a job to completion with its log, events, pid file and output folder', async () => {
    const stateDir = tempDir();
    const backend = new LocalJobBackend({ stateDir });
    const handle = await backend.launch({ name: 'wf-1.train', command: [node, FIXTURE_JOB, '--steps', '4', '--step-ms', '1', '--checkpoint-every', '2'], cwd: stateDir, env: { EXTRA: 'x' } });
    expect(handle.outputDir).toBe(path.join(stateDir, 'jobs', 'wf-1.train', 'output'));
    const status = await untilDone(backend, handle);
    expect(status).toEqual({ state: 'succeeded', exitCode: 0, signal: null });

    const events = await backend.events(handle);
    expect(events.map((e) => e.type)).toEqual(['progress', 'progress', 'checkpoint', 'progress', 'progress', 'artifact']);
    expect(await backend.events(handle, { from: 5 })).toEqual([events[5]]);
    expect(existsSync(path.join(handle.outputDir, 'ckpt-000002.json'))).toBe(true);
    const log = await backend.logs(handle);
    expect(log).toContain('counting-job: starting at step 0 of 4');
    expect(log).toContain('counting-job: this line goes to stderr');
    expect(await backend.logs(handle, { tailLines: 1 })).toContain('"type":"artifact"');
    const jsonl = readFileSync(path.join(stateDir, 'jobs', 'wf-1.train', 'events.jsonl'), 'utf8').trim().split('\n');
    expect(jsonl.map((l) => JSON.parse(l) as unknown)).toEqual(events);
    expect(JSON.parse(readFileSync(path.join(stateDir, 'jobs', 'wf-1.train', 'job.pid'), 'utf8'))).toMatchObject({ pid: Number(handle.id) });
  });

  it('keeps names that are not file names apart', () => {
    const backend = new LocalJobBackend({ stateDir: '/s' });
    expect(backend.jobDir('wf/1:train')).not.toBe(backend.jobDir('wf_1_train'));
    expect(path.dirname(backend.jobDir('../../etc'))).toBe('/s/jobs');
  });

  it('kills the orphan a dead worker left running before launching the same name again', async () => {
    const stateDir = tempDir();
    const spec = { name: 'wf-2.train', command: [node, FIXTURE_JOB, '--steps', '100000', '--step-ms', '10'], cwd: stateDir, env: {} };
    // The "dead worker": launches, then forgets the handle without stopping the job.
    const orphan = await new LocalJobBackend({ stateDir }).launch(spec);
    trackJob(orphan.id);
    const orphanPid = Number(orphan.id);
    expect(isRunning(orphanPid)).toBe(true);

    const backend = new LocalJobBackend({ stateDir }); // the retry's worker
    const handle = await backend.launch({ ...spec, command: [node, FIXTURE_JOB, '--steps', '2', '--step-ms', '1'] });
    trackJob(handle.id);
    expect(handle.replaced).toBe(orphan.id);
    expect(pidGone(orphanPid)).toBe(true);
    expect((await untilDone(backend, handle)).state).toBe('succeeded');
    expect(await backend.logs(handle)).toContain(`stopped leftover process group ${orphanPid}`);
    expect((await backend.events(handle)).filter((e) => e.type === 'artifact')).toHaveLength(1);
  });

  it('cancel kills the whole process group, escalating past a job that ignores SIGTERM', async () => {
    const stateDir = tempDir();
    const backend = new LocalJobBackend({ stateDir, killGraceMs: 500 });
    const handle = await backend.launch({
      name: 'wf-3.train',
      // A shell that ignores SIGTERM around the fixture: only the SIGKILL escalation ends it.
      command: ['sh', '-c', `trap '' TERM; "${node}" "${FIXTURE_JOB}" --steps 100000 --step-ms 10 --grandchild; sleep 1000`],
      cwd: stateDir,
      env: {},
    });
    trackJob(handle.id);
    let grandchild = 0;
    await waitFor(async () => {
      const found = (await backend.events(handle)).find((e) => e.type === 'grandchild');
      grandchild = Number((found as { pid?: number } | undefined)?.pid ?? 0);
      return grandchild > 0;
    }, 'the grandchild event');
    await backend.cancel(handle);
    expect(pidGone(Number(handle.id))).toBe(true);
    expect(isRunning(grandchild)).toBe(false);
    expect(await backend.poll(handle)).toMatchObject({ state: 'cancelled', signal: 'SIGKILL' });
  });

  it('reports a command that cannot start as a permanent launch error', async () => {
    const stateDir = tempDir();
    const backend = new LocalJobBackend({ stateDir });
    const err = await backend.launch({ name: 'wf-4', command: ['/no/such/trainer', '--x'], cwd: stateDir, env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobLaunchError);
    expect(err).toMatchObject({ permanent: true, errno: 'ENOENT', message: expect.stringContaining('/no/such/trainer') as unknown });
  });
});
