// Outside interference: a release waiting for approval, its candidate model server running, is
// terminated with the real `temporal workflow terminate`. The workflow can clean nothing up any more;
// the serving worker's reconciler sees that the candidate's owner no longer runs and stops it, and
// `slipway list` shows the release terminated (in awaiting-approval), not still awaiting approval.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, inject, it } from 'vitest';
import { isAlive } from '../../src/activities/deploy/processes.js';
import type { ListedRelease } from '../../src/client/slipway-client.js';
import { findTool } from '../../src/system/tools.js';
import { writeSpec } from '../integration/fixtures.js';
import { runCli } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { readDeployment, registeredVersions, servingProcesses, useWorkerProcess, waitForRelease } from './support.js';
import { endpointPort } from '../support/ports.js';

const setup = useWorkerProcess('slipway-chaos-terminated-');
const { address, stateDir } = setup;

it('stops the candidate of a release terminated from outside, and lists the release as terminated', async () => {
  const name = 'chaos-terminated';
  // Kept warm: a waiting release then holds a candidate server, the thing a terminated release leaves behind.
  const spec = writeSpec({ name, deployPort: await endpointPort(), approval: { approvers: ['alice'], timeout: '1h', keep_candidate_warm: true } });
  const env = { TEMPORAL_ADDRESS: address };
  const started = await runCli(['run', spec, '--release', 'r1', '--json'], env);
  expect(started.code).toBe(0);
  const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
  await waitForRelease(setup.slipway, id, (v) => v.stage === 'awaiting-approval', 'awaiting-approval');
  const candidates = Object.entries(readDeployment(stateDir, name).versions).filter(([, r]) => r.owner === id);
  expect(candidates).toHaveLength(1);
  const [version, { pid }] = candidates[0]!;
  expect(isAlive(pid!)).toBe(true);

  await promisify(execFile)(findTool('temporal'), ['workflow', 'terminate', '--workflow-id', id, '--address', address, '--reason', 'chaos: terminated from outside']);

  await waitFor(() => !isAlive(pid!), `the candidate ${version} to be stopped`, 60_000, 250);
  expect(readDeployment(stateDir, name).versions[version]).toBeUndefined();
  expect(servingProcesses(stateDir)).toEqual({ modelServers: [], routers: [] });

  const listed = await runCli(['list', '--json'], env);
  expect(listed.code).toBe(0);
  expect((JSON.parse(listed.stdout) as ListedRelease[]).find((r) => r.workflowId === id)).toMatchObject({ stage: 'terminated', endedIn: 'awaiting-approval', status: 'TERMINATED' });
  const waiting = await runCli(['list', '--stage', 'awaiting-approval', '--json'], env);
  expect((JSON.parse(waiting.stdout) as ListedRelease[]).map((r) => r.workflowId)).not.toContain(id);
  // Nothing was registered for a release that never deployed.
  expect(await registeredVersions(inject('mlflowUrl'), `${name}-model`)).toEqual([]);
});
