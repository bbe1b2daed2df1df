import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDeployTarget } from '../../src/activities/deploy/local.js';
import type { DeploymentState } from '../../src/activities/deploy/state.js';
import { freePort } from '../../src/system/ports.js';
import { killProcessesMentioning, runCli } from '../support/processes.js';

const stateDirs: string[] = [];

/** Runs `slipway demo` on its own embedded stack (free ports, a temp state dir), as a user would. */
async function demo(args: string[]) {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-demo-'));
  stateDirs.push(stateDir);
  const ports = { temporal: await freePort(), ui: await freePort(), mlflow: await freePort(), prometheus: await freePort(), endpoint: await freePort() };
  const res = await runCli(
    [
      'demo', ...args, '--exit', '--state-dir', stateDir,
      '--temporal-port', String(ports.temporal), '--ui-port', String(ports.ui), '--mlflow-port', String(ports.mlflow), '--prometheus-port', String(ports.prometheus), '--port', String(ports.endpoint),
    ],
    {},
    // A hung demo is stopped (it then stops its stack) before the test's own timeout.
    { timeoutMs: 540_000 },
  );
  return { ...res, ports, stateDir };
}

/** Whether anything accepts a TCP connection on the loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

afterAll(async () => {
  // The deployed model server and its stable endpoint outlive the demo by design; end them here,
  // then anything a failed or stopped demo left behind.
  for (const stateDir of stateDirs) {
    await new LocalDeployTarget({ stateDir }).stopAll({ deploymentName: 'tiny-llm' });
    killProcessesMentioning(stateDir);
  }
});

describe('slipway demo: the tiny LLM released end to end (slow: real training)', () => {
  it('trains, passes the gate, deploys, and the endpoint answers the official openai client', async () => {
    const { code, stdout, stderr, ports } = await demo(['--approve', '--steps', '700']);
    expect(stderr, stdout).not.toMatch(/Error/);
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/✅ accuracy: (0\.\d+|1) \(>= 0\.85\)/);
    expect(stdout).toContain('approval: approved by demo-approver');
    expect(stdout).toContain(`Temporal UI: http://127.0.0.1:${ports.ui}/namespaces/default/workflows/release%3Atiny-llm%3Ademo-`);
    expect(stdout).toContain(`MLflow:      http://127.0.0.1:${ports.mlflow}/#/models/tiny-llm`);

    const openai = new OpenAI({ baseURL: `http://127.0.0.1:${ports.endpoint}/v1`, apiKey: 'not-needed' });
    const answer = await openai.chat.completions.create({ model: 'tiny-llm', messages: [{ role: 'user', content: 'What is 23+45?' }], max_tokens: 8, temperature: 0 });
    // Training is seeded and decoding greedy: the model that passed the gate adds this one right.
    expect(answer.choices[0]?.message.content).toBe('68');
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toContain('tiny-llm');
  }, 600_000);

  it('an under-trained model fails the gate with the report, and nothing deploys', async () => {
    const { code, stdout, ports, stateDir } = await demo(['--approve', '--steps', '30']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/gate-failed/);
    expect(stdout).toMatch(/❌ accuracy: 0(\.\d+)? \(>= 0\.85\)/);
    expect(stdout).not.toContain('Endpoint:');
    // Nothing listens on the endpoint's port, and the deployment never had a live version or router.
    expect(await listening(ports.endpoint)).toBe(false);
    const deployment = path.join(stateDir, 'deployments', 'tiny-llm');
    expect(existsSync(path.join(deployment, 'router.json'))).toBe(false);
    if (existsSync(path.join(deployment, 'state.json'))) {
      const state = JSON.parse(readFileSync(path.join(deployment, 'state.json'), 'utf8')) as DeploymentState;
      expect(state.live).toBeNull();
      expect(state.previous).toBeNull();
      // Candidates served for evaluation were stopped.
      expect(Object.values(state.versions).filter((v) => v.pid !== null)).toEqual([]);
    }
  }, 600_000);
});
