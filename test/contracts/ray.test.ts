// The Ray job backend against the JobBackend contract, on a real single-node Ray head.
import path from 'node:path';
import { RayJobBackend } from '../../src/activities/jobs/ray.js';
import { useRayHead } from '../support/ray.js';
import { describeJobBackendContract } from './job-backend-contract.js';

const rayAddress = useRayHead({ cpus: 4 });

describeJobBackendContract('ray', (stateDir) => new RayJobBackend({ address: rayAddress(), outputRoot: path.join(stateDir, 'ray-jobs') }), { waitMs: 120_000 });
