// The single-node Slurm harness: it starts a real cluster that runs jobs, refuses what its node
// cannot offer, and stops without leaving a daemon or a job process behind.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSlurmCluster } from '../../src/stack/slurm.js';
import { TempDirs, waitFor } from '../contracts/support.js';
import { isRunning } from '../jobs/support.js';

const dirs = new TempDirs();
afterAll(() => dirs.removeAll());

describe('Slurm harness', () => {
  it('starts munged, slurmctld and slurmd, runs jobs, and stops leaving no process behind', async () => {
    const stateDir = dirs.make('slipway-slurm-harness-');
    const cluster = await startSlurmCluster({ stateDir });
    const env = { ...process.env, SLURM_CONF: cluster.conf };
    const daemons = cluster.processes.map((p) => p.child.pid!);
    let jobPid = 0;
    try {
      expect(cluster.processes.map((p) => p.name)).toEqual(['munged', 'slurmctld', 'slurmd']);
      expect(execFileSync('sinfo', ['-h', '-o', '%P %t %c'], { env, encoding: 'utf8' }).trim()).toBe(`${cluster.partition}* idle ${cluster.cpus}`);
      expect(cluster.memoryMb).toBeGreaterThan(0);

      // No GPUs on this node: a GPU request is refused at submit.
      const gpu = spawnSync('sbatch', ['--gres=gpu:1', '--wrap', 'true'], { env, encoding: 'utf8' });
      expect(gpu.status).not.toBe(0);
      expect(gpu.stderr).toContain('Requested node configuration is not available');

      // A job that runs until the cluster stops: its processes must go with it.
      const pidFile = path.join(stateDir, 'job.pid');
      const id = execFileSync('sbatch', ['--parsable', '-o', path.join(stateDir, 'job.log'), '--wrap', `echo $$ > ${pidFile}; sleep 1000`], { env, encoding: 'utf8' }).trim();
      await waitFor(() => {
        try {
          jobPid = Number(readFileSync(pidFile, 'utf8'));
          return jobPid > 0;
        } catch {
          return false;
        }
      }, 'the job to start', 60_000);
      expect(execFileSync('squeue', ['-h', '-j', id, '-o', '%T'], { env, encoding: 'utf8' }).trim()).toBe('RUNNING');
      expect(isRunning(jobPid)).toBe(true);
    } finally {
      await cluster.stop();
    }
    for (const pid of [...daemons, jobPid]) expect(isRunning(pid), `pid ${pid}`).toBe(false);
    // No slurmstepd of this cluster is left either (each carries its SLURM_CONF).
    const stepds = execFileSync('ps', ['-eo', 'pid=,comm='], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('slurmstepd'))
      .map((l) => Number(l.trim().split(/\s+/)[0]))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`SLURM_CONF=${cluster.conf}`);
        } catch {
          return false;
        }
      });
    expect(stepds).toEqual([]);
    expect(existsSync(cluster.mungeSocketDir)).toBe(false);
    await cluster.stop(); // a second stop is harmless
  });
});
