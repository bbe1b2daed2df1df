// The local job backend and the local deploy target against their contract suites.
import { LocalDeployTarget } from '../../src/activities/deploy/local.js';
import { LocalJobBackend } from '../../src/activities/jobs/local.js';
import { describeDeployTargetContract } from './deploy-target-contract.js';
import { describeJobBackendContract } from './job-backend-contract.js';

describeJobBackendContract('local', (stateDir) => new LocalJobBackend({ stateDir, killGraceMs: 500 }));

describeDeployTargetContract('local', (stateDir) => new LocalDeployTarget({ stateDir }), { teardown: (target, deploymentName) => target.stopAll({ deploymentName }) });
