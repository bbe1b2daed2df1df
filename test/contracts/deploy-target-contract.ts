// The conformance suite every DeployTarget passes: real model-server processes (the fixture server),
// real HTTP through the stable endpoint, and every call repeated or raced as a retried activity
// would. A target runs it with one line in a test file:
//   describeDeployTargetContract('k8s', (stateDir) => new KServeTarget({ ... }), { teardown: (t, name) => t.delete(name) });
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeployTarget, ServeConfig } from '../../src/activities/deploy/target.js';
import { endpointPort } from '../support/ports.js';
import { isRunning } from '../jobs/support.js';
import { MODEL_SERVER, REPO_ROOT, TempDirs, WHICH_MODEL, killHere, readJsonLines, waitFor } from './support.js';

export interface DeployTargetContractOptions<T extends DeployTarget> {
  /** Stops everything the suite deployed under `deploymentName`, the stable endpoint included (the interface has no call for that). */
  teardown: (target: T, deploymentName: string) => Promise<void>;
  /** The stable port for a new deployment (default: a free loopback port). */
  stablePort?: () => Promise<number>;
  /** How to see and end processes where the model servers run (default: this machine). */
  processes?: { isRunning(pid: number): boolean; kill(pid: number): void };
}

interface Start {
  pid: number;
  model: string;
}

/** One chat request; never throws (a refused connection is status 0). */
async function ask(endpoint: string, prompt = WHICH_MODEL): Promise<{ status: number; content: string | null }> {
  try {
    const res = await fetch(`${endpoint}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: prompt }] }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { choices?: Array<{ message: { content: string } }> };
    return { status: res.status, content: body.choices?.[0]?.message.content ?? null };
  } catch {
    return { status: 0, content: null };
  }
}

/**
 * Declares the DeployTarget contract as a vitest `describe` block. `makeTarget(stateDir)` is called
 * once for the suite, and again with the same folder where a test plays a restarted worker.
 */
export function describeDeployTargetContract<T extends DeployTarget>(name: string, makeTarget: (stateDir: string) => T | Promise<T>, opts: DeployTargetContractOptions<T>): void {
  const processes = opts.processes ?? { isRunning, kill: killHere };
  const stablePort = opts.stablePort ?? endpointPort;
  const dirs = new TempDirs();
  const deployments = new Set<string>();
  const stableEndpoints = new Set<string>();
  let stateDir: string;
  let startsFile: string;
  let target: T;

  const serve = (): ServeConfig => ({
    command: [process.execPath, '--import', 'tsx', MODEL_SERVER, '--port', '{port}', '--model', '{model}', '--starts', startsFile],
    cwd: REPO_ROOT,
    healthPath: '/health',
    startupTimeoutMs: 60_000,
  });
  const model = (deployment: string, version: string) => `/models/${deployment}/${version}.bin`;
  const candidate = (deployment: string, version: string) => {
    deployments.add(deployment);
    return { deploymentName: deployment, version, artifactPath: model(deployment, version), serve: serve() };
  };
  /** The server processes started for a version, from the fixture's own start lines. */
  const starts = (deployment: string, version: string) => readJsonLines<Start>(startsFile).filter((s) => s.model === model(deployment, version));
  const running = (deployment: string, version: string) => starts(deployment, version).filter((s) => processes.isRunning(s.pid));
  async function promote(deployment: string, version: string, port: number) {
    const result = await target.promote({ deploymentName: deployment, version, port });
    stableEndpoints.add(result.endpoint);
    return result;
  }
  /** Ensures and promotes each version in turn on a new deployment; returns its stable port. */
  async function deployed(deployment: string, versions: string[]): Promise<number> {
    const port = await stablePort();
    for (const v of versions) {
      await target.ensureCandidate(candidate(deployment, v));
      await promote(deployment, v, port);
    }
    return port;
  }
  const serving = async (endpoint: string) => (await ask(endpoint)).content;

  // The tests run in order and build on each other's deployments, as a release does.
  describe(`DeployTarget contract: ${name}`, () => {
    beforeAll(async () => {
      stateDir = dirs.make('slipway-contract-deploy-');
      startsFile = path.join(stateDir, 'model-server-starts.jsonl');
      target = await makeTarget(stateDir);
    });

    afterAll(async () => {
      try {
        for (const deployment of deployments) await opts.teardown(target, deployment);
        const left = readJsonLines<Start>(startsFile).filter((s) => processes.isRunning(s.pid));
        for (const s of left) processes.kill(s.pid);
        expect(left, 'model servers still running after teardown').toEqual([]);
        for (const endpoint of stableEndpoints) expect((await ask(endpoint)).status, `${endpoint} after teardown`).not.toBe(200);
      } finally {
        dirs.removeAll();
      }
    });

    it('ensureCandidate starts a healthy server that answers on its own endpoint', async () => {
      const { endpoint } = await target.ensureCandidate(candidate('ensure', 'v1'));
      expect((await fetch(`${endpoint}/health`)).status).toBe(200);
      expect(await ask(endpoint)).toEqual({ status: 200, content: model('ensure', 'v1') });
      expect(running('ensure', 'v1')).toHaveLength(1);
    });

    it('ensureCandidate again (a retried activity) returns the same endpoint and server', async () => {
      const first = await target.ensureCandidate(candidate('ensure', 'v1'));
      const again = await target.ensureCandidate(candidate('ensure', 'v1'));
      expect(again).toEqual(first);
      expect(starts('ensure', 'v1')).toHaveLength(1);
      expect(running('ensure', 'v1')).toHaveLength(1);
    });

    it('concurrent ensureCandidate of one version, from two workers, starts one server', async () => {
      const other = await makeTarget(stateDir);
      const results = await Promise.all([target.ensureCandidate(candidate('race', 'v1')), target.ensureCandidate(candidate('race', 'v1')), other.ensureCandidate(candidate('race', 'v1'))]);
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
      expect(starts('race', 'v1')).toHaveLength(1);
      expect(await serving(results[0].endpoint)).toBe(model('race', 'v1'));
    });

    it('ensureCandidate brings back a server that died (the desired state, not a record of the past)', async () => {
      const before = await target.ensureCandidate(candidate('heal', 'v1'));
      for (const s of running('heal', 'v1')) processes.kill(s.pid);
      await waitFor(() => running('heal', 'v1').length === 0, 'the killed server to be gone', 30_000);
      const after = await target.ensureCandidate(candidate('heal', 'v1'));
      expect(await serving(after.endpoint)).toBe(model('heal', 'v1'));
      expect(starts('heal', 'v1')).toHaveLength(2);
      expect(running('heal', 'v1')).toHaveLength(1);
      expect(before.endpoint === after.endpoint || (await ask(before.endpoint)).status !== 200).toBe(true);
    });

    it('promote puts the version behind the stable endpoint; promoting it again gives the same answer', async () => {
      const port = await stablePort();
      await target.ensureCandidate(candidate('main', 'v1'));
      const promoted = await promote('main', 'v1', port);
      expect(promoted.previousVersion).toBeNull();
      expect(await serving(promoted.endpoint)).toBe(model('main', 'v1'));
      expect(await promote('main', 'v1', port)).toEqual(promoted);
    });

    it('promoting a second version keeps the first running for rollback, and status says so', async () => {
      const v1 = await target.ensureCandidate(candidate('main', 'v1'));
      await target.ensureCandidate(candidate('main', 'v2'));
      const stable = (await target.status({ deploymentName: 'main' })).stableEndpoint!;
      const port = Number(new URL(stable).port);
      const promoted = await promote('main', 'v2', port);
      expect(promoted).toEqual({ endpoint: stable, previousVersion: 'v1' });
      expect(await serving(stable)).toBe(model('main', 'v2'));
      expect(await serving(v1.endpoint)).toBe(model('main', 'v1'));
      expect(await promote('main', 'v2', port)).toEqual(promoted); // a retry: same previousVersion
      const status = await target.status({ deploymentName: 'main' });
      expect(status).toMatchObject({ deploymentName: 'main', live: 'v2', previous: 'v1', stableEndpoint: stable });
      expect(status.versions.filter((v) => v.running).map((v) => v.version).sort()).toEqual(['v1', 'v2']);
      expect(status.versions.find((v) => v.version === 'v1')?.endpoint).toBe(v1.endpoint);
    });

    it('rollback restores the previous version and stops the rolled-back one; a repeated rollback returns the same result', async () => {
      const stable = (await target.status({ deploymentName: 'main' })).stableEndpoint!;
      const result = await target.rollback({ deploymentName: 'main', expectedLive: 'v2' });
      expect(result).toEqual({ endpoint: stable, restoredVersion: 'v1', rolledBackVersion: 'v2' });
      expect(await serving(stable)).toBe(model('main', 'v1'));
      expect(running('main', 'v2')).toEqual([]);
      expect(await target.rollback({ deploymentName: 'main', expectedLive: 'v2' })).toEqual(result);
      expect(await target.rollback({ deploymentName: 'main' })).toEqual(result);
      expect(await target.status({ deploymentName: 'main' })).toMatchObject({ live: 'v1', previous: null });
      expect(await serving(stable)).toBe(model('main', 'v1'));
    });

    it('rollback fails with VersionNotLive when the expected version is not live, and changes nothing', async () => {
      const before = await target.status({ deploymentName: 'main' });
      await expect(target.rollback({ deploymentName: 'main', expectedLive: 'v9' })).rejects.toMatchObject({ type: 'VersionNotLive' });
      expect(await target.status({ deploymentName: 'main' })).toEqual(before);
    });

    it('rollback fails with NoPreviousVersion when there is nothing to go back to', async () => {
      const port = await deployed('single', ['only']);
      await expect(target.rollback({ deploymentName: 'single' })).rejects.toMatchObject({ type: 'NoPreviousVersion' });
      await expect(target.rollback({ deploymentName: 'single', expectedLive: 'only' })).rejects.toMatchObject({ type: 'NoPreviousVersion' });
      expect(await serving(`http://127.0.0.1:${port}`)).toBe(model('single', 'only'));
      await target.ensureCandidate(candidate('unpromoted', 'v1'));
      await expect(target.rollback({ deploymentName: 'unpromoted' })).rejects.toMatchObject({ type: 'NoPreviousVersion' });
    });

    it('stop ends a version that is not live, and leaves the live one running', async () => {
      const live = (await target.status({ deploymentName: 'main' })).live!;
      const candidateV3 = await target.ensureCandidate(candidate('main', 'v3'));
      expect(await target.stop({ deploymentName: 'main', version: 'v3' })).toEqual({ stopped: true });
      expect(running('main', 'v3')).toEqual([]);
      expect((await ask(candidateV3.endpoint)).status).not.toBe(200);
      expect((await target.status({ deploymentName: 'main' })).versions.filter((v) => v.running).map((v) => v.version)).not.toContain('v3');
      expect(await target.stop({ deploymentName: 'main', version: 'v3' })).toEqual({ stopped: false }); // a retry
      expect(await target.stop({ deploymentName: 'main', version: live })).toEqual({ stopped: false });
      expect(running('main', live)).toHaveLength(1);
      expect(await serving((await target.status({ deploymentName: 'main' })).stableEndpoint!)).toBe(model('main', live));
    });

    it('status of a deployment that was never deployed is empty', async () => {
      expect(await target.status({ deploymentName: 'never-deployed' })).toMatchObject({ deploymentName: 'never-deployed', live: null, previous: null, versions: [] });
    });

    it('concurrent promotes settle in one order: the same version gets one answer, two versions chain', async () => {
      const port = await deployed('contest', ['a']);
      await Promise.all(['b', 'c'].map((v) => target.ensureCandidate(candidate('contest', v))));
      const same = await Promise.all([promote('contest', 'b', port), promote('contest', 'b', port)]);
      expect(same[1]).toEqual(same[0]);
      expect(same[0].previousVersion).toBe('a');

      await target.ensureCandidate(candidate('contest', 'd'));
      const [c, d] = await Promise.all([promote('contest', 'c', port), promote('contest', 'd', port)]);
      // Whichever went first replaced b; the other replaced it and is live.
      const [first, live] = c.previousVersion === 'b' ? ['c', 'd'] : ['d', 'c'];
      expect({ c: c.previousVersion, d: d.previousVersion }).toEqual(first === 'c' ? { c: 'b', d: 'c' } : { c: 'd', d: 'b' });
      expect(await target.status({ deploymentName: 'contest' })).toMatchObject({ live, previous: first });
      expect(await serving(`http://127.0.0.1:${port}`)).toBe(model('contest', live));
    });

    it('rollback to a previous version that was stopped starts it again', async () => {
      const { live, previous, stableEndpoint } = await target.status({ deploymentName: 'contest' });
      expect(await target.stop({ deploymentName: 'contest', version: previous! })).toEqual({ stopped: true });
      expect(running('contest', previous!)).toEqual([]);
      expect(await target.rollback({ deploymentName: 'contest', expectedLive: live! })).toEqual({ endpoint: stableEndpoint, restoredVersion: previous, rolledBackVersion: live });
      expect(await serving(stableEndpoint!)).toBe(model('contest', previous!));
      expect(running('contest', previous!)).toHaveLength(1);
      expect(running('contest', live!)).toEqual([]);
    });

    it('setCanary splits the stable endpoint by weight; weight 0 takes the canary out; promote makes it live', async () => {
      const port = await deployed('canary', ['stable']);
      const stable = `http://127.0.0.1:${port}`;
      await target.ensureCandidate(candidate('canary', 'next'));
      const split = await target.setCanary({ deploymentName: 'canary', version: 'next', weight: 50, port });
      expect(split).toEqual({ endpoint: stable, weights: { stable: 50, next: 50 } });
      expect(await target.setCanary({ deploymentName: 'canary', version: 'next', weight: 50, port })).toEqual(split); // a retry
      expect(await target.status({ deploymentName: 'canary' })).toMatchObject({ live: 'stable', canary: { version: 'next', weight: 50 }, weights: { stable: 50, next: 50 } });
      const seen = new Set<string | null>();
      for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(await serving(stable));
      expect([...seen].sort()).toEqual([model('canary', 'next'), model('canary', 'stable')].sort());

      expect(await target.setCanary({ deploymentName: 'canary', version: 'next', weight: 0, port })).toEqual({ endpoint: stable, weights: { stable: 100 } });
      for (let i = 0; i < 10; i++) expect(await serving(stable)).toBe(model('canary', 'stable'));
      expect(running('canary', 'next')).toHaveLength(1); // out of traffic, still there to look at

      await target.setCanary({ deploymentName: 'canary', version: 'next', weight: 10, port });
      expect(await promote('canary', 'next', port)).toEqual({ endpoint: stable, previousVersion: 'stable' });
      expect(await target.status({ deploymentName: 'canary' })).toMatchObject({ live: 'next', previous: 'stable', canary: null, weights: { next: 100 } });
      for (let i = 0; i < 10; i++) expect(await serving(stable)).toBe(model('canary', 'next'));
    });

    it('setCanary refuses a bad weight, a version that is not running, the live version, and a deployment with nothing live', async () => {
      const port = Number(new URL((await target.status({ deploymentName: 'canary' })).stableEndpoint!).port);
      await expect(target.setCanary({ deploymentName: 'canary', version: 'stable', weight: 101, port })).rejects.toMatchObject({ type: 'InvalidWeight' });
      await expect(target.setCanary({ deploymentName: 'canary', version: 'ghost', weight: 10, port })).rejects.toMatchObject({ type: 'VersionNotDeployed' });
      await expect(target.setCanary({ deploymentName: 'canary', version: 'next', weight: 10, port })).rejects.toMatchObject({ type: 'VersionAlreadyLive' });
      await target.ensureCandidate(candidate('no-stable', 'v1'));
      await expect(target.setCanary({ deploymentName: 'no-stable', version: 'v1', weight: 10, port: await stablePort() })).rejects.toMatchObject({ type: 'NoStableVersion' });
      expect((await target.status({ deploymentName: 'canary' })).weights).toEqual({ next: 100 });
    });

    it('a new target over the same state (a restarted worker) takes the deployment over', async () => {
      const restarted = await makeTarget(stateDir);
      const before = await target.status({ deploymentName: 'main' });
      expect(await restarted.status({ deploymentName: 'main' })).toEqual(before);
      const live = before.live!;
      const again = await restarted.ensureCandidate(candidate('main', live));
      expect(again.endpoint).toBe(before.versions.find((v) => v.version === live)?.endpoint);
      expect(starts('main', live)).toHaveLength(1);
      const port = Number(new URL(before.stableEndpoint!).port);
      expect((await restarted.promote({ deploymentName: 'main', version: live, port })).endpoint).toBe(before.stableEndpoint);
    });
  });
}
