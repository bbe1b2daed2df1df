// The gpu worker's reconciler for evaluation servers run as cluster jobs: the job of a release that
// no longer runs is cancelled and forgotten; the jobs of running releases, of releases Temporal cannot
// tell about now, and of backends this worker does not have stay. Real jobs through the local backend
// (the same JobBackend calls Slurm and Ray answer; the Slurm path end to end is in
// test/integration/slurm-release.test.ts). Whether a release runs is Temporal's answer in the worker;
// here it comes from the answers the test declares.
import { afterAll, expect, it } from 'vitest';
import { ClusterServerRecords, stopOrphanedClusterServers } from '../../src/activities/jobs/cluster-server-records.js';
import { LocalJobBackend } from '../../src/activities/jobs/local.js';
import { killJobGroups, removeTempDirs, tempDir, trackJob } from './support.js';

afterAll(() => {
  killJobGroups();
  removeTempDirs();
});

it('cancels the server jobs of releases that no longer run, and only those', { timeout: 30_000 }, async () => {
  const stateDir = tempDir();
  const backend = new LocalJobBackend({ stateDir });
  const records = new ClusterServerRecords(`${stateDir}/cluster-servers`);
  // A server that never exits on its own, as a model server does.
  const serve = async (name: string) => {
    const job = await backend.launch({ name, command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], cwd: stateDir, env: {} });
    trackJob(job.id);
    return job;
  };
  const gone = await serve('gone-serve');
  const running = await serve('running-serve');
  const unknown = await serve('unknown-serve');
  records.add({ owner: 'release:gone', backend: 'local', job: gone });
  records.add({ owner: 'release:running', backend: 'local', job: running });
  records.add({ owner: 'release:unknown', backend: 'local', job: unknown });
  records.add({ owner: 'release:gone', backend: 'ray', job: { ...gone, backend: 'ray', name: 'elsewhere-serve' } });
  const answers: Record<string, boolean | undefined> = { 'release:gone': false, 'release:running': true, 'release:unknown': undefined };
  const errors: unknown[] = [];

  const stopped = await stopOrphanedClusterServers(records, { local: backend }, async (id) => answers[id], (err) => errors.push(err));
  expect(stopped.map((r) => r.job.name)).toEqual(['gone-serve']);
  expect(errors).toEqual([]);
  expect((await backend.poll(gone)).state).toBe('cancelled');
  expect((await backend.poll(running)).state).toBe('running');
  expect((await backend.poll(unknown)).state).toBe('running');
  expect(records.list().map((r) => r.job.name).sort()).toEqual(['elsewhere-serve', 'running-serve', 'unknown-serve']);

  // The next pass has nothing to do until another release ends.
  expect(await stopOrphanedClusterServers(records, { local: backend }, async (id) => answers[id], (err) => errors.push(err))).toEqual([]);
  answers['release:unknown'] = false;
  expect((await stopOrphanedClusterServers(records, { local: backend }, async (id) => answers[id], (err) => errors.push(err))).map((r) => r.job.name)).toEqual(['unknown-serve']);
  expect((await backend.poll(unknown)).state).toBe('cancelled');
  expect((await backend.poll(running)).state).toBe('running');
  await backend.cancel(running);
});
