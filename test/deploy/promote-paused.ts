// Plays a worker that dies in the middle of a promote: v1 is live, then the promote of v2 stops at
// the test hook (after its intent is saved, before Traefik moves) and this process waits to be killed.
//   node --import tsx test/deploy/promote-paused.ts <stateDir> <deploymentName> <stablePort>
import { LocalDeployTarget } from '../../src/activities/deploy/local.js';
import { fakeServe } from './helpers.js';

const [stateDir, deploymentName, port] = process.argv.slice(2);
if (!stateDir || !deploymentName || !port) throw new Error('usage: promote-paused <stateDir> <name> <port>');
const target = new LocalDeployTarget({ stateDir });
for (const version of ['v1', 'v2']) await target.ensureCandidate({ deploymentName, version, artifactPath: `/models/${version}`, serve: fakeServe });
await target.promote({ deploymentName, version: 'v1', port: Number(port) });
await new LocalDeployTarget({ stateDir, testPauseAt: 'promote:after-intent' }).promote({ deploymentName, version: 'v2', port: Number(port) });
