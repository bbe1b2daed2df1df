import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findTool, ToolNotFoundError } from '../../src/stack/tools.js';
import { freePort } from '../../src/stack/process.js';
import { packageRoot } from '../../src/stack/tools.js';
import { runCli } from '../support/processes.js';
import { writeSpec } from '../integration/fixtures.js';

/** Processes whose command line mentions `text` (the stack's state dir, here). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmd.includes(text) && state !== 'Z') found.push(`${pid}: ${cmd}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** The model servers and stable endpoint of a local deployment (they outlive `slipway dev` by design). */
function deploymentPids(stateDir: string, name: string): number[] {
  const dir = path.join(stateDir, 'deployments', name);
  const state = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as { versions: Record<string, { pid: number }> };
  const router = JSON.parse(readFileSync(path.join(dir, 'router.json'), 'utf8')) as { pid: number };
  return [...Object.values(state.versions).map((v) => v.pid), router.pid];
}

/** Runs `slipway dev` in the foreground, as a user would, until `stop()` sends Ctrl-C (SIGINT). */
async function startDev(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(packageRoot, 'src/client/cli.ts'), 'dev', ...args], { cwd: packageRoot });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('Press Ctrl-C to stop.')) {
        clearInterval(timer);
        resolve();
      }
    }, 200);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`slipway dev exited with ${code}:\n${out}`));
    });
  });
  return {
    output: () => out,
    stop: async () => {
      child.kill('SIGINT');
      return exited;
    },
  };
}

describe('slipway dev: the embedded stack', () => {
  it('serves the UI, runs a release from the CLI, stops cleanly on Ctrl-C and keeps history across restarts', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-dev-'));
    const ports = { temporal: await freePort(), ui: await freePort(), mlflow: await freePort() };
    const args = ['--state-dir', stateDir, '--temporal-port', String(ports.temporal), '--ui-port', String(ports.ui), '--mlflow-port', String(ports.mlflow)];
    const env = { TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}` };

    const dev = await startDev(args);
    expect(dev.output()).toContain(`Temporal UI: http://127.0.0.1:${ports.ui}`);
    expect(dev.output()).toContain(`MLflow:      http://127.0.0.1:${ports.mlflow}`);
    expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);

    const spec = writeSpec({ name: 'dev-hello', deployPort: await freePort(), monitor: { duration: '2s', interval: '1s' } });
    const run = await runCli(['run', spec, '--release', 'hello', '--wait'], env);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/release:dev-hello-model:hello\s+completed/);

    expect(await dev.stop()).toBe(0);
    // The deployed model keeps serving by design; everything else the stack started is gone.
    const deployed = deploymentPids(stateDir, 'dev-hello').map((pid) => `${pid}:`);
    expect(deployed).toHaveLength(2);
    expect(processesMentioning(stateDir).filter((p) => !deployed.some((d) => p.startsWith(d)))).toEqual([]);

    const again = await startDev(args);
    const list = await runCli(['list', '--json'], env);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ workflowId: 'release:dev-hello-model:hello', stage: 'completed' })]);
    expect(await again.stop()).toBe(0);

    expect((await runCli(['undeploy', 'dev-hello', '--state-dir', stateDir])).code).toBe(0);
    expect(processesMentioning(stateDir)).toEqual([]);
  }, 300_000);

  it('names the port in use and the flag that changes it', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const res = await runCli(['dev', '--temporal-port', String(port), '--state-dir', mkdtempSync(path.join(os.tmpdir(), 'slipway-dev-'))]);
      expect(res.code).toBe(5);
      expect(res.stderr).toContain(`port ${port} (Temporal frontend) is already in use`);
      expect(res.stderr).toContain('--temporal-port');
    } finally {
      blocker.close();
    }
  });

  it('says how to install a missing temporal binary', async () => {
    const res = await runCli(['dev', '--state-dir', mkdtempSync(path.join(os.tmpdir(), 'slipway-dev-'))], { TEMPORAL_CLI_PATH: '/nonexistent/temporal' });
    expect(res.code).toBe(5);
    expect(res.stderr).toContain('TEMPORAL_CLI_PATH=/nonexistent/temporal is not an executable file');
    expect(res.stderr).toContain('npm run setup');
    expect(() => findTool('temporal', { PATH: '' }, '/nonexistent/venv/bin')).toThrow(ToolNotFoundError);
    expect(() => findTool('temporal', { PATH: '' }, '/nonexistent/venv/bin')).toThrow(/temporal not found\. Run `npm run setup`/);
  });
});
