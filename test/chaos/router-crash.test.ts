// Chaos: the stable endpoint's router (Traefik) is SIGKILLed while its release monitors the live
// version. Nothing calls the deploy target meanwhile (the monitor only samples the endpoint): the
// serving worker's reconciler starts Traefik again with the same routes, the same version answers
// again, and the release completes with it live. Real dev server, worker process, MLflow, Traefik.
import { expect, inject, it } from 'vitest';
import { isAlive } from '../../src/activities/deploy/processes.js';
import { writeSpec } from '../integration/fixtures.js';
import { runCli } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { answeredBy, readDeployment, readRouterRecord, registeredVersions, servingProcesses, useWorkerProcess, waitForRelease } from './support.js';
import { endpointPort } from '../support/ports.js';

const setup = useWorkerProcess('slipway-chaos-router-');
const { address, stateDir } = setup;

it('restarts a killed router without waiting for a deploy call; the live version answers again and stays live', async () => {
  const name = 'chaos-router';
  const port = await endpointPort();
  // Breaches while the router is down must not roll the release back: the threshold is above the outage.
  const spec = writeSpec({ name, deployPort: port, monitor: { duration: '20s', interval: '1s', breaches_to_rollback: 60 } });
  const started = await runCli(['run', spec, '--release', 'r1', '--json'], { TEMPORAL_ADDRESS: address });
  expect(started.code).toBe(0);
  const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
  const live = (await waitForRelease(setup.slipway, id, (v) => v.stage === 'monitoring' && (v.monitor?.samples ?? 0) >= 1, 'monitoring')).deployment!.version;
  expect(await answeredBy(port)).toBe(live);

  const killed = readRouterRecord(stateDir, name).pid;
  process.kill(-killed, 'SIGKILL');
  await waitFor(() => !isAlive(killed), 'the router to die', 10_000);
  expect(await answeredBy(port)).toBeNull();

  await waitFor(async () => (await answeredBy(port)) === live, `the stable endpoint answering from ${live} again`, 60_000, 250);
  expect(readRouterRecord(stateDir, name).pid).not.toBe(killed);
  expect(readDeployment(stateDir, name)).toMatchObject({ live, switching: null });

  const result = await setup.slipway.result(id);
  expect(result).toMatchObject({ status: 'completed', deployedVersion: live });
  expect(readDeployment(stateDir, name).live).toBe(live);
  expect(await answeredBy(port)).toBe(live);
  expect(await registeredVersions(inject('mlflowUrl'), `${name}-model`)).toEqual(['1']);
  // Nothing orphaned: one model server (the live one) and one router.
  const running = servingProcesses(stateDir);
  expect(running.modelServers).toHaveLength(1);
  expect(running.routers).toHaveLength(1);
});
