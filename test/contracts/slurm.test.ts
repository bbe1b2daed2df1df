// The slurm job backend against the JobBackend contract and the cluster contract, on a real
// single-node Slurm cluster (munged, slurmctld, slurmd from Debian's slurm-wlm) started here.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { SlurmJobBackend } from '../../src/activities/jobs/slurm.js';
import { startSlurmCluster, type RunningSlurm } from '../../src/stack/slurm.js';
import { describeClusterBackendContract } from './cluster-backend-contract.js';
import { describeJobBackendContract } from './job-backend-contract.js';
import { TempDirs } from './support.js';

const dirs = new TempDirs();
let cluster: RunningSlurm;
beforeAll(async () => {
  cluster = await startSlurmCluster({ stateDir: dirs.make('slipway-slurm-') });
});
afterAll(async () => {
  await cluster?.stop();
  dirs.removeAll();
});

const backend = (stateDir: string) => new SlurmJobBackend({ stateDir, slurmConf: cluster.conf });
/** Slurm's own view, through squeue (finished jobs stay listed: the harness keeps them a day). */
const squeue = (args: string[]) => execFileSync('squeue', ['-h', '-t', 'all', ...args], { env: { ...process.env, SLURM_CONF: cluster.conf }, encoding: 'utf8' }).trim();

describeJobBackendContract('slurm', backend);

describeClusterBackendContract('slurm', backend, {
  // The node's every CPU: while one such job runs, the next one waits (reason `Resources`).
  get slot() {
    return { cpus: cluster.cpus };
  },
  unsatisfiable: { gpus: 1 }, // the harness's node has no GPUs
  engine: {
    submissions: async (name) => squeue([`--name=${backend('/').slurmName(name)}`, '-o', '%i']).split('\n').filter(Boolean).sort((a, b) => Number(a) - Number(b)),
    state: async (id) => squeue(['-j', id, '-o', '%T']),
    cancelledState: 'CANCELLED',
  },
});
