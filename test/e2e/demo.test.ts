import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDeployTarget } from '../../src/activities/deploy/local.js';
import { freePort } from '../../src/stack/process.js';
import { runCli } from '../support/processes.js';

const stateDirs: string[] = [];

/** Runs `slipway demo` on its own embedded stack (free ports, a temp state dir), as a user would. */
async function demo(args: string[]) {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-demo-'));
  stateDirs.push(stateDir);
  const ports = { temporal: await freePort(), ui: await freePort(), mlflow: await freePort(), endpoint: await freePort() };
  const res = await runCli([
    'demo', ...args, '--exit', '--state-dir', stateDir,
    '--temporal-port', String(ports.temporal), '--ui-port', String(ports.ui), '--mlflow-port', String(ports.mlflow), '--port', String(ports.endpoint),
  ]);
  return { ...res, ports };
}

afterAll(async () => {
  // The deployed model server and its stable endpoint outlive the demo by design; end them here.
  for (const stateDir of stateDirs) await new LocalDeployTarget({ stateDir }).stopAll({ deploymentName: 'tiny-llm' });
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
    expect(answer.choices[0]?.message.content).toMatch(/^\d+$/);
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toContain('tiny-llm');
  }, 600_000);

  it('an under-trained model fails the gate with the report, and nothing deploys', async () => {
    const { code, stdout } = await demo(['--approve', '--steps', '30']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/gate-failed/);
    expect(stdout).toMatch(/❌ accuracy: 0(\.\d+)? \(>= 0\.85\)/);
    expect(stdout).not.toContain('Endpoint:');
  }, 600_000);
});
