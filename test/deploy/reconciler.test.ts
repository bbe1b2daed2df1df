// The serving worker's reconciler over a real local deployment (model-server processes, Traefik):
// candidates of releases that no longer run are stopped (a canary loses its traffic first) while
// live, previous and still-owned ones stay; a killed Traefik runs again with the same routes; a
// canary whose server died loses its traffic; and a promote whose process was killed half way is finished. Whether a release runs is Temporal's
// answer in the worker; here it comes from a set of owners the test declares gone.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDeployTarget } from '../../src/activities/deploy/local.js';
import { reconcileOnce } from '../../src/activities/deploy/reconciler.js';
import { readRouter, readState } from '../../src/activities/deploy/state.js';
import { waitFor } from '../support/wait.js';
import { alive, chat, fakeServe, repoRoot } from './helpers.js';
import { endpointPort } from '../support/ports.js';

let stateDir: string;
let target: LocalDeployTarget;
const dirOf = (name: string) => path.join(stateDir, 'deployments', name);
const candidate = (name: string, version: string, owner?: string) => target.ensureCandidate({ deploymentName: name, version, artifactPath: `/models/${version}`, serve: fakeServe, ...(owner ? { owner } : {}) });
const failOnError = (err: unknown) => {
  throw err;
};
/** Releases in `gone` no longer run; every other one does. */
const reconcile = (gone: string[]) => reconcileOnce({ local: target }, async (id) => !gone.includes(id), failOnError);

beforeAll(() => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-reconcile-'));
  target = new LocalDeployTarget({ stateDir });
});
afterAll(async () => {
  for (const name of target.deployments()) await target.stopAll({ deploymentName: name });
  rmSync(stateDir, { recursive: true, force: true });
});

describe('reconciler', () => {
  it('stops the candidates and the canary of gone releases; live, previous and owned candidates stay', async () => {
    const port = await endpointPort();
    await candidate('app', 'v1', 'release-1');
    await target.promote({ deploymentName: 'app', version: 'v1', port });
    await candidate('app', 'v2', 'release-2');
    await target.promote({ deploymentName: 'app', version: 'v2', port });
    const canary = await candidate('app', 'c3', 'release-3');
    const kept = await candidate('app', 'c4', 'release-4');
    await target.setCanary({ deploymentName: 'app', version: 'c3', weight: 50, port });

    // release-1 and release-2 are gone too: their versions are previous and live, and stay.
    const repairs = await reconcile(['release-1', 'release-2', 'release-3']);
    expect(repairs).toEqual([{ deploymentName: 'app', finishedSwitch: false, routerRestarted: false, stoppedOrphans: ['c3'], withdrawnCanary: null }]);
    expect(alive(canary.pid)).toBe(false);
    expect(alive(kept.pid)).toBe(true);
    const state = readState(dirOf('app'));
    expect(state).toMatchObject({ live: 'v2', previous: 'v1', canary: null });
    expect(Object.keys(state.versions).sort()).toEqual(['c4', 'v1', 'v2']);
    for (let i = 0; i < 6; i++) expect((await chat(`http://127.0.0.1:${port}`)).version).toBe('v2');
    // A second pass has nothing left to do.
    expect(await reconcile(['release-1', 'release-2', 'release-3'])).toEqual([]);
  });

  it('starts a killed Traefik again with the same routes, without any deploy call', async () => {
    const router = readRouter(dirOf('app'))!;
    process.kill(-router.pid, 'SIGKILL');
    await waitFor(() => !alive(router.pid), 'Traefik to die', 10_000);
    expect(await reconcile([])).toEqual([{ deploymentName: 'app', finishedSwitch: false, routerRestarted: true, stoppedOrphans: [], withdrawnCanary: null }]);
    expect(readRouter(dirOf('app'))!.pid).not.toBe(router.pid);
    expect((await chat(`http://127.0.0.1:${router.port}`)).version).toBe('v2');
  });

  it("takes the traffic away from a canary whose server exited, and keeps its record for its release to find", async () => {
    const router = readRouter(dirOf('app'))!;
    const canary = await candidate('app', 'c5', 'release-5');
    await target.setCanary({ deploymentName: 'app', version: 'c5', weight: 50, port: router.port });
    const served = new Set<string | null>();
    for (let i = 0; i < 20; i++) served.add((await chat(`http://127.0.0.1:${router.port}`)).version);
    expect([...served].sort()).toEqual(['c5', 'v2']);
    // Nothing to do while the canary's server runs.
    expect(await reconcile([])).toEqual([]);

    process.kill(-canary.pid, 'SIGKILL'); // as an OOM kill would
    await waitFor(() => !alive(canary.pid), 'the canary to die', 10_000);
    expect(await reconcile([])).toEqual([{ deploymentName: 'app', finishedSwitch: false, routerRestarted: false, stoppedOrphans: [], withdrawnCanary: 'c5' }]);
    for (let i = 0; i < 20; i++) expect(await chat(`http://127.0.0.1:${router.port}`)).toMatchObject({ status: 200, version: 'v2' });
    const state = readState(dirOf('app'));
    expect(state.canary).toBeNull();
    expect(state.versions.c5).toBeDefined();
    // Its release's next weight is refused as for any version that does not run (the release then aborts the canary).
    await expect(target.setCanary({ deploymentName: 'app', version: 'c5', weight: 60, port: router.port })).rejects.toMatchObject({ type: 'VersionNotDeployed' });
    expect(await reconcile([])).toEqual([]);
    expect(await target.stop({ deploymentName: 'app', version: 'c5' })).toEqual({ stopped: false });
    expect(readState(dirOf('app')).versions.c5).toBeUndefined();
  });

  it('finishes a promote whose process was killed after the intent and before the switch', async () => {
    const port = await endpointPort();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/deploy/promote-paused.ts'), stateDir, 'half', String(port)], { cwd: repoRoot, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(() => existsSync(path.join(dirOf('half'), 'test-paused-at')), 'the promote of v2 to reach the hook', 90_000);
    child.kill('SIGKILL');
    await exited;
    rmSync(path.join(dirOf('half'), 'test-paused-at'));
    expect(readState(dirOf('half'))).toMatchObject({ live: 'v2', previous: 'v1', switching: { op: 'promote' } });
    expect((await chat(`http://127.0.0.1:${port}`)).version).toBe('v1');

    expect(await reconcile([])).toEqual([{ deploymentName: 'half', finishedSwitch: true, routerRestarted: false, stoppedOrphans: [], withdrawnCanary: null }]);
    expect(readState(dirOf('half'))).toMatchObject({ live: 'v2', previous: 'v1', switching: null });
    expect((await chat(`http://127.0.0.1:${port}`)).version).toBe('v2');
    // A retried promote finds it done and answers as the first call would have.
    expect(await target.promote({ deploymentName: 'half', version: 'v2', port })).toEqual({ endpoint: `http://127.0.0.1:${port}`, previousVersion: 'v1' });
  });
});
