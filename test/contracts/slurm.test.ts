// The slurm job backend against the JobBackend contract, on a real single-node Slurm cluster
// (munged, slurmctld, slurmd from Debian's slurm-wlm) that this file starts and stops.
import { afterAll, beforeAll } from 'vitest';
import { SlurmJobBackend } from '../../src/activities/jobs/slurm.js';
import { startSlurmCluster, type RunningSlurm } from '../../src/stack/slurm.js';
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

describeJobBackendContract('slurm', (stateDir) => new SlurmJobBackend({ stateDir, slurmConf: cluster.conf }));
