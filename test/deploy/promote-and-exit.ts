// Plays a worker that deploys and promotes one version, then exits (a worker restart, in short):
//   node --import tsx test/deploy/promote-and-exit.ts <stateDir> <deploymentName> <version> <stablePort>
import { LocalDeployTarget } from '../../src/activities/deploy/local.js';
import { fakeServe } from './helpers.js';

const [stateDir, deploymentName, version, port] = process.argv.slice(2);
if (!stateDir || !deploymentName || !version || !port) throw new Error('usage: promote-and-exit <stateDir> <name> <version> <port>');
const target = new LocalDeployTarget({ stateDir });
const candidate = await target.ensureCandidate({ deploymentName, version, artifactPath: `/models/${version}`, serve: fakeServe });
const promoted = await target.promote({ deploymentName, version, port: Number(port) });
process.stdout.write(JSON.stringify({ ...candidate, ...promoted, workerPid: process.pid }) + '\n');
