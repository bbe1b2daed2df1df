// The Ray job backend against the JobBackend contract and the cluster contract, on a real
// single-node Ray head (the run's shared one: RAY_CPUS CPUs, no GPUs).
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RayJobBackend } from '../../src/activities/jobs/ray.js';
import { RAY_CPUS, useRayHead } from '../support/ray.js';
import { describeClusterBackendContract } from './cluster-backend-contract.js';
import { describeJobBackendContract } from './job-backend-contract.js';

const rayAddress = useRayHead();
const backend = (stateDir: string) => new RayJobBackend({ address: rayAddress(), outputRoot: path.join(stateDir, 'ray-jobs') });

describeJobBackendContract('ray', backend, { waitMs: 120_000 });

describeClusterBackendContract('ray', backend, {
  slot: { cpus: RAY_CPUS }, // the node's every CPU: while one such job runs, the next one waits
  unsatisfiable: { gpus: 1 }, // the head offers no GPUs
  engine: {
    // Ray's own job list, through the Jobs API directly (not the backend's reading of it).
    submissions: async (name) => (await backend('/').client.list()).filter((j) => j.metadata?.slipway_job === name).map((j) => j.submission_id).sort(),
    // Ray cannot drop a queued job: the stop it was sent ends it once it is scheduled. So the state is
    // read once Ray has settled it (bounded), which for a cancelled job must be STOPPED.
    state: async (id) => {
      for (let i = 0; i < 300; i++) {
        const status = (await backend('/').client.get(id))?.status ?? 'MISSING';
        if (status !== 'PENDING' && status !== 'RUNNING') return status;
        await sleep(200);
      }
      return 'still live after 60 s';
    },
    cancelledState: 'STOPPED',
  },
});
