import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findTool, ToolNotFoundError } from '../../src/system/tools.js';
import { freePort } from '../../src/system/ports.js';
import { killProcessesMentioning, processesMentioning, runCli, startCli } from '../support/processes.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { writeSpec } from '../integration/fixtures.js';
import { waitFor } from '../support/wait.js';
import { endpointPort } from '../support/ports.js';

const stateDirs: string[] = [];
function stateDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-dev-'));
  stateDirs.push(dir);
  return dir;
}
afterAll(async () => {
  // After a failed test: the deployed model servers, then anything else the stack left running.
  for (const dir of stateDirs) {
    await stopLocalDeployments(dir);
    killProcessesMentioning(dir);
  }
});

/** The model servers and stable endpoint of a local deployment (they outlive `slipway dev` by design). */
function deploymentPids(dir: string, name: string): number[] {
  const deployment = path.join(dir, 'deployments', name);
  const state = JSON.parse(readFileSync(path.join(deployment, 'state.json'), 'utf8')) as { versions: Record<string, { pid: number }> };
  const router = JSON.parse(readFileSync(path.join(deployment, 'router.json'), 'utf8')) as { pid: number };
  return [...Object.values(state.versions).map((v) => v.pid), router.pid];
}

/** Runs `slipway dev` in the foreground, as a user would; `stop('SIGINT')` is Ctrl-C. */
const startDev = (args: string[], env: NodeJS.ProcessEnv = {}) => startCli(['dev', ...args], env, 'Press Ctrl-C to stop.', 180_000);

/** A webhook receiver (a real HTTP server standing in for Slack) that keeps what it was sent. */
async function startHook(): Promise<{ server: Server; url: string; bodies: Array<{ slipway: { event: string; uiUrl: string } }> }> {
  const bodies: Array<{ slipway: { event: string; uiUrl: string } }> = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(data) as (typeof bodies)[number]);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

describe('slipway dev: the embedded stack', () => {
  it('serves the UI, runs a release from the CLI, links notifications to its UI, stops cleanly on Ctrl-C and keeps history across restarts', async () => {
    const dir = stateDir();
    const ports = { temporal: await freePort(), ui: await freePort(), mlflow: await freePort(), prometheus: await freePort() };
    const args = ['--state-dir', dir, '--temporal-port', String(ports.temporal), '--ui-port', String(ports.ui), '--mlflow-port', String(ports.mlflow), '--prometheus-port', String(ports.prometheus)];
    const env = { TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}` };
    const hook = await startHook();
    try {
      // SLIPWAY_UI_URL unset: links must follow --ui-port, not the default 8233.
      const dev = await startDev(args, { DEV_TEST_HOOK: hook.url, SLIPWAY_UI_URL: '' });
      expect(dev.output()).toContain(`Temporal UI: http://127.0.0.1:${ports.ui}`);
      expect(dev.output()).toContain(`MLflow:      http://127.0.0.1:${ports.mlflow}`);
      expect(dev.output()).toContain(`Prometheus:  http://127.0.0.1:${ports.prometheus}`);
      expect((await fetch(`http://127.0.0.1:${ports.prometheus}/-/ready`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);

      const spec = writeSpec({ name: 'dev-hello', deployPort: await endpointPort(), monitor: { duration: '2s', interval: '1s' }, notify: { webhook_env: 'DEV_TEST_HOOK' } });
      const run = await runCli(['run', spec, '--release', 'hello', '--wait'], env);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/release:dev-hello-model:hello\s+completed/);
      const deployed = hook.bodies.find((b) => b.slipway.event === 'deployed');
      expect(deployed?.slipway.uiUrl).toBe(`http://127.0.0.1:${ports.ui}/namespaces/default/workflows/${encodeURIComponent('release:dev-hello-model:hello')}`);

      // A release still in flight (waiting for approval) when the stack stops.
      // Same deployment, so the same stable port.
      const stablePort = (JSON.parse(readFileSync(spec, 'utf8')) as { deploy: { port: number } }).deploy.port;
      const waiting = writeSpec({ name: 'dev-hello', deployPort: stablePort, monitor: { duration: '2s', interval: '1s' }, approval: { approvers: ['alice'], timeout: '1h' } });
      expect((await runCli(['run', waiting, '--release', 'inflight'], env)).code).toBe(0);
      await waitFor(async () => (await runCli(['status', 'release:dev-hello-model:inflight', '--json'], env)).stdout.includes('"stage": "awaiting-approval"'), 'the in-flight release to wait for approval', 120_000, 1000);

      expect(await dev.stop('SIGINT')).toBe(0);
      // The deployed model keeps serving by design; everything else the stack started is gone.
      const deployedPids = deploymentPids(dir, 'dev-hello').map((pid) => `${pid}:`);
      // The live version and the stable endpoint: the in-flight release's candidate stopped when it began to wait.
      expect(deployedPids).toHaveLength(2);
      expect(processesMentioning(dir).filter((p) => !deployedPids.some((d) => p.startsWith(d)))).toEqual([]);

      const again = await startDev(args);
      // The in-flight release goes on where it stopped: approved now, it deploys and completes.
      expect((await runCli(['approve', 'release:dev-hello-model:inflight', '--as', 'alice'], env)).code).toBe(0);
      await waitFor(async () => (await runCli(['status', 'release:dev-hello-model:inflight', '--json'], env)).stdout.includes('"stage": "completed"'), 'the in-flight release to complete', 120_000, 1000);
      const list = await runCli(['list', '--json'], env);
      expect(JSON.parse(list.stdout)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ workflowId: 'release:dev-hello-model:hello', stage: 'completed' }),
          expect.objectContaining({ workflowId: 'release:dev-hello-model:inflight', stage: 'completed' }),
        ]),
      );
      expect(await again.stop('SIGINT')).toBe(0);

      expect((await runCli(['undeploy', 'dev-hello', '--state-dir', dir])).code).toBe(0);
      expect(processesMentioning(dir)).toEqual([]);
    } finally {
      hook.server.close();
    }
  }, 400_000);

  it('says so and stops everything, exit 5, when its Temporal server dies', async () => {
    const dir = stateDir();
    const args = ['--state-dir', dir, '--temporal-port', String(await freePort()), '--ui-port', String(await freePort()), '--no-mlflow', '--no-prometheus'];
    const dev = await startDev(args);
    const server = processesMentioning(dir).find((p) => p.includes('start-dev'));
    expect(server).toBeDefined();
    process.kill(Number(server!.split(':')[0]), 'SIGKILL');

    expect(await dev.exited).toBe(5);
    expect(dev.output()).toMatch(/slipway dev: the Temporal server exited \(exit code \d+\), stopping/);
    expect(dev.output()).toContain(`slipway: the Temporal server exited unexpectedly`);
    expect(dev.output()).toContain(path.join(dir, 'logs', 'temporal.log'));
    await waitFor(() => processesMentioning(dir).length === 0, 'the stack to be gone', 30_000);
  }, 300_000);

  it('refuses an MLflow password without a username before starting anything (exit 2)', async () => {
    const dir = stateDir();
    const res = await runCli(['dev', '--state-dir', dir, '--temporal-port', String(await freePort())], { MLFLOW_TRACKING_PASSWORD: 'secret', MLFLOW_TRACKING_USERNAME: '' });
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD: set both or neither');
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(processesMentioning(dir)).toEqual([]);
  });

  it('names the port in use and the flag that changes it', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const res = await runCli(['dev', '--temporal-port', String(port), '--state-dir', stateDir()]);
      expect(res.code).toBe(5);
      expect(res.stderr).toContain(`port ${port} (Temporal frontend) is already in use`);
      expect(res.stderr).toContain('--temporal-port');
    } finally {
      blocker.close();
    }
  });

  it('says how to install a missing temporal binary', async () => {
    const res = await runCli(['dev', '--state-dir', stateDir()], { TEMPORAL_CLI_PATH: '/nonexistent/temporal' });
    expect(res.code).toBe(5);
    expect(res.stderr).toContain('TEMPORAL_CLI_PATH=/nonexistent/temporal is not an executable file');
    expect(res.stderr).toContain('npm run setup');
    expect(() => findTool('temporal', { PATH: '' }, '/nonexistent/venv/bin')).toThrow(ToolNotFoundError);
    expect(() => findTool('temporal', { PATH: '' }, '/nonexistent/venv/bin')).toThrow(/temporal not found\. Run `npm run setup`/);
  });
});
