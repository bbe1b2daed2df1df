// The local deploy target with real processes and real HTTP: model servers (the test-double
// OpenAI server run as its own process), Traefik as the stable endpoint, promote, canary and rollback.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDeployTarget } from '../../src/activities/deploy/local.js';
import { logPath, readRouter } from '../../src/activities/deploy/state.js';
import { DeployError } from '../../src/activities/deploy/target.js';
import { alive, chat, fakeServe, readyLines, repoRoot } from './helpers.js';
import { endpointPort } from '../support/ports.js';

async function waitUntil(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const NAME = 'tiny-llm';
let stateDir: string;
let target: LocalDeployTarget;
let stablePort: number;
const deployDir = () => path.join(stateDir, 'deployments', NAME);
const candidate = (version: string) => ({ deploymentName: NAME, version, artifactPath: `/models/${version}.bin`, serve: fakeServe });

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-deploy-'));
  target = new LocalDeployTarget({ stateDir });
  stablePort = await endpointPort();
});

afterAll(async () => {
  const router = readRouter(deployDir());
  for (const name of [NAME, 'lonely', 'broken', 'orphaned']) await target.stopAll({ deploymentName: name });
  if (router) expect(alive(router.pid)).toBe(false);
  rmSync(stateDir, { recursive: true, force: true });
});

describe('LocalDeployTarget', () => {
  it('ensureCandidate is idempotent: repeated and concurrent calls share one server process', async () => {
    const [a, b] = await Promise.all([target.ensureCandidate(candidate('v1')), target.ensureCandidate(candidate('v1'))]);
    const c = await target.ensureCandidate(candidate('v1'));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(alive(a.pid)).toBe(true);
    expect(readyLines(path.join(deployDir(), 'logs', 'v1.log'))).toEqual([{ type: 'ready', port: a.port, model: '/models/v1.bin' }]);
    const direct = await chat(a.endpoint);
    // The server names itself from SLIPWAY_VERSION, which the target sets.
    expect(direct).toMatchObject({ status: 200, content: 'echo: Hello', version: 'v1' });
  });

  it('promote puts v1 behind the stable endpoint', async () => {
    const promoted = await target.promote({ deploymentName: NAME, version: 'v1', port: stablePort });
    expect(promoted).toEqual({ endpoint: `http://127.0.0.1:${stablePort}`, previousVersion: null });
    expect(await chat(promoted.endpoint)).toMatchObject({ status: 200, version: 'v1', content: 'echo: Hello' });
    // Everything is forwarded, /health and /metrics included.
    const metrics = await fetch(`${promoted.endpoint}/metrics`);
    expect(metrics.headers.get('x-slipway-version')).toBe('v1');
    expect(await metrics.text()).toContain('slipway_model_requests_total{status="200"}');
  });

  it('promoting v2 switches the stable endpoint and keeps v1 running for rollback', async () => {
    const v1 = await target.ensureCandidate(candidate('v1'));
    const routerBefore = readRouter(deployDir());
    await target.ensureCandidate(candidate('v2'));
    const promoted = await target.promote({ deploymentName: NAME, version: 'v2', port: stablePort });
    expect(promoted.previousVersion).toBe('v1');
    expect(await chat(promoted.endpoint)).toMatchObject({ status: 200, version: 'v2' });
    expect(alive(v1.pid)).toBe(true);
    // Promote again (a retried activity): same answer, same router.
    expect(await target.promote({ deploymentName: NAME, version: 'v2', port: stablePort })).toEqual(promoted);
    expect(readRouter(deployDir())).toEqual(routerBefore);
  });

  it('Traefik is its own detached process that a re-created target finds again', async () => {
    const router = readRouter(deployDir());
    expect(router).not.toBeNull();
    expect(router!.pid).not.toBe(process.pid);
    // Own process group (field 5 of /proc/<pid>/stat), so a worker's group signal does not reach it.
    const stat = readFileSync(`/proc/${router!.pid}/stat`, 'utf8');
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])).toBe(router!.pid);
    const fresh = new LocalDeployTarget({ stateDir });
    const status = await fresh.status({ deploymentName: NAME });
    expect(status).toMatchObject({ live: 'v2', previous: 'v1', stableEndpoint: `http://127.0.0.1:${stablePort}` });
    await fresh.promote({ deploymentName: NAME, version: 'v2', port: stablePort });
    expect(readRouter(deployDir())?.pid).toBe(router!.pid);
    expect(alive(router!.pid)).toBe(true);
  });

  it('Traefik and the model server outlive the worker process that started them', async () => {
    const port = await endpointPort();
    const script = path.join(repoRoot, 'test/deploy/promote-and-exit.ts');
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', script, stateDir, 'orphaned', 'w1', String(port)], { cwd: repoRoot }, (err, out) => (err ? reject(err) : resolve(out))),
    );
    const started = JSON.parse(stdout) as { pid: number; workerPid: number; endpoint: string };
    expect(alive(started.workerPid)).toBe(false);
    expect(alive(started.pid)).toBe(true);
    expect(await chat(`http://127.0.0.1:${port}`)).toMatchObject({ status: 200, version: 'w1' });
    // This process, a fresh "worker", takes the deployment over where the dead one left it.
    expect(await target.ensureCandidate({ deploymentName: 'orphaned', version: 'w1', artifactPath: '/models/w1', serve: fakeServe })).toMatchObject({ pid: started.pid });
  });

  it('a canary at 30%: Traefik counts each version in its own metrics, and a killed Traefik comes back with the same weights', async () => {
    await target.ensureCandidate(candidate('v1'));
    await target.ensureCandidate(candidate('c1'));
    const before = readRouter(deployDir())!;
    expect(await target.setCanary({ deploymentName: NAME, version: 'c1', weight: 30, port: stablePort })).toMatchObject({ weights: { v2: 70, c1: 30 } });
    const answers = new Map<string | null, number>();
    for (let i = 0; i < 60; i++) {
      const { version } = await chat(`http://127.0.0.1:${stablePort}`);
      answers.set(version, (answers.get(version) ?? 0) + 1);
    }
    expect([...answers.keys()].sort()).toEqual(['c1', 'v2']);
    const status = await target.status({ deploymentName: NAME });
    const metrics = await (await fetch(status.routerMetrics!)).text();
    // Per-service counters and request-duration histograms, as Prometheus will see them.
    expect(metrics).toMatch(/traefik_service_requests_total\{code="200",method="POST",protocol="http",service="version-c1@file"\} \d+/);
    expect(metrics).toContain('traefik_service_request_duration_seconds_bucket{code="200",method="POST",protocol="http",service="version-v2@file",le="0.005"}');
    // Prometheus finds the servers and Traefik through file_sd.
    const sd = JSON.parse(readFileSync(path.join(stateDir, 'prometheus', 'targets', `${NAME}.json`), 'utf8')) as Array<{ labels: Record<string, string> }>;
    expect(sd.map((g) => g.labels.slipway_version ?? g.labels.slipway_role).sort()).toEqual(['c1', 'router', 'v1', 'v2']);

    process.kill(before.pid, 'SIGKILL');
    await waitUntil(() => !alive(before.pid));
    // The next call of the target brings Traefik back from the state on disk: the same 70/30.
    expect(await target.setCanary({ deploymentName: NAME, version: 'c1', weight: 30, port: stablePort })).toMatchObject({ weights: { v2: 70, c1: 30 } });
    const after = readRouter(deployDir())!;
    expect(after.pid).not.toBe(before.pid);
    expect((await target.status({ deploymentName: NAME })).weights).toEqual({ v2: 70, c1: 30 });
    expect(await target.stop({ deploymentName: NAME, version: 'c1' })).toEqual({ stopped: true });
    expect((await target.status({ deploymentName: NAME })).weights).toEqual({ v2: 100 });
    for (let i = 0; i < 10; i++) expect(await chat(`http://127.0.0.1:${stablePort}`)).toMatchObject({ status: 200, version: 'v2' });
  });

  it('rollback restores v1 on the stable endpoint and stops v2', async () => {
    const v2 = await target.ensureCandidate(candidate('v2'));
    const result = await target.rollback({ deploymentName: NAME });
    expect(result).toEqual({ endpoint: `http://127.0.0.1:${stablePort}`, restoredVersion: 'v1', rolledBackVersion: 'v2' });
    expect(await chat(result.endpoint)).toMatchObject({ status: 200, version: 'v1' });
    expect(alive(v2.pid)).toBe(false);
    // A retried rollback activity gets the same outcome instead of NoPreviousVersion.
    expect(await target.rollback({ deploymentName: NAME })).toEqual(result);
    const status = await target.status({ deploymentName: NAME });
    expect(status.versions.map((v) => v.version)).toEqual(['v1']);
  });

  it('versions older than the previous one are stopped on promote', async () => {
    const v1 = await target.ensureCandidate(candidate('v1'));
    await target.ensureCandidate(candidate('v3'));
    expect((await target.promote({ deploymentName: NAME, version: 'v3', port: stablePort })).previousVersion).toBe('v1');
    const v4 = await target.ensureCandidate(candidate('v4'));
    expect((await target.promote({ deploymentName: NAME, version: 'v4', port: stablePort })).previousVersion).toBe('v3');
    expect(alive(v1.pid)).toBe(false);
    expect(alive(v4.pid)).toBe(true);
    expect(await chat(`http://127.0.0.1:${stablePort}`)).toMatchObject({ version: 'v4' });
    // Cleanup after a failed pipeline stops its candidates; one that went live must stay up.
    expect(await target.stop({ deploymentName: NAME, version: 'v4' })).toEqual({ stopped: false });
    expect(alive(v4.pid)).toBe(true);
    // The previous version stops but stays known, so a rollback can start it again.
    expect(await target.stop({ deploymentName: NAME, version: 'v3' })).toEqual({ stopped: true });
    expect(await target.rollback({ deploymentName: NAME })).toMatchObject({ restoredVersion: 'v3', rolledBackVersion: 'v4' });
    expect(await chat(`http://127.0.0.1:${stablePort}`)).toMatchObject({ status: 200, version: 'v3' });
    expect(alive(v4.pid)).toBe(false);
  });

  it('rollback with no previous version fails with NoPreviousVersion', async () => {
    await target.ensureCandidate({ ...candidate('only'), deploymentName: 'lonely' });
    await target.promote({ deploymentName: 'lonely', version: 'only', port: await endpointPort() });
    const err = await target.rollback({ deploymentName: 'lonely' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(err).toMatchObject({ type: 'NoPreviousVersion', nonRetryable: true });
  });

  it('the same version with other weights is restarted; a bad deployment name is a typed error', async () => {
    const first = await target.ensureCandidate({ ...candidate('same'), deploymentName: 'broken' });
    const second = await target.ensureCandidate({ ...candidate('same'), deploymentName: 'broken', artifactPath: '/models/retrained.bin' });
    expect(second.pid).not.toBe(first.pid);
    expect(alive(first.pid)).toBe(false);
    await expect(target.ensureCandidate({ ...candidate('v1'), deploymentName: '../escape' })).rejects.toMatchObject({ type: 'InvalidDeploymentName' });
  });

  it('a model server that exits at once fails with ModelServerFailedToStart and its log tail', async () => {
    const serve = { ...fakeServe, command: [process.execPath, '-e', 'console.error("cannot load weights from " + process.argv[1]); process.exit(3)', '{model}'] };
    const err = await target.ensureCandidate({ deploymentName: 'broken', version: 'v1', artifactPath: '/nope.bin', serve }).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'ModelServerFailedToStart', nonRetryable: true });
    expect((err as DeployError).details.logTail).toContain('cannot load weights from /nope.bin');
    expect((await target.status({ deploymentName: 'broken' })).versions.map((v) => v.version)).toEqual(['same']);
  });

  it('a model server whose port was taken as it started is started again on another port', async () => {
    // The first start finds its port taken, as when another process's outgoing connection got it
    // between the target choosing it and the server binding it: a real EADDRINUSE from a second listen.
    const marker = path.join(stateDir, 'port-taken-once');
    const script = `
      const fs = require('node:fs'), http = require('node:http'), net = require('node:net');
      const port = Number(process.argv[1]);
      if (fs.existsSync(${JSON.stringify(marker)})) http.createServer((req, res) => res.end('ok')).listen(port, '127.0.0.1');
      else {
        fs.writeFileSync(${JSON.stringify(marker)}, String(port));
        net.createServer().listen(port, '127.0.0.1', () => net.createServer().listen(port, '127.0.0.1'));
      }`;
    const serve = { ...fakeServe, command: [process.execPath, '-e', script, '{port}'] };
    const started = await target.ensureCandidate({ deploymentName: 'port-taken', version: 'v1', artifactPath: '/m.bin', serve });
    const takenPort = Number(readFileSync(marker, 'utf8'));
    expect(takenPort).toBeGreaterThan(0);
    expect(started.port).not.toBe(takenPort);
    expect((await fetch(`${started.endpoint}/health`)).status).toBe(200);
    expect(readFileSync(logPath(path.join(stateDir, 'deployments', 'port-taken'), 'v1'), 'utf8')).toContain(`EADDRINUSE: address already in use 127.0.0.1:${takenPort}`);
    await target.stopAll({ deploymentName: 'port-taken' });
  });

  it('a stable port held by another process fails with StablePortInUse', async () => {
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      await target.ensureCandidate({ ...candidate('x'), deploymentName: 'broken' });
      await expect(target.promote({ deploymentName: 'broken', version: 'x', port })).rejects.toMatchObject({ type: 'StablePortInUse' });
    } finally {
      squatter.close();
    }
  });
});
