import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateCommand } from '../../src/client/commands/gate.js';
import { startFakeModelServer, type FakeModelServer } from '../support/openai-server.js';
import { tempDir, writeDataset } from './support/dataset.js';

const dir = tempDir();
const entry = path.join(import.meta.dirname, 'cli-entry.ts');
// The processes run in the temp dir (so relative file names print as a user types them): load tsx by path.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
let server: FakeModelServer;
beforeAll(async () => {
  server = await startFakeModelServer({ answers: { 'What is 2+2?': '4' } });
});
afterAll(async () => server?.close());

/** Runs the commands as a real process and returns its exit code and output. */
function slipway(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', tsx, entry, ...args], { cwd: dir }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const json = (name: string, value: unknown) => {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
};

describe('slipway gate', () => {
  it('passes, one ✅ line per metric with value and threshold', async () => {
    json('good.json', { accuracy: 0.9, latency_p99_ms: 120, memory_gb: 2 });
    json('gates.json', { min_accuracy: 0.85, max_latency_ms: 500, max_memory_gb: 16, eval_dataset: 'eval.jsonl' });
    const r = await slipway('gate', '--metrics', 'good.json', '--config', 'gates.json');
    expect(r.stdout).toContain('✅ accuracy: 0.9 (required >= 0.85)');
    expect(r.stdout).toContain('✅ latency_p99_ms: 120 (required <= 500)');
    expect(r.code).toBe(0);
  });

  it('refuses a config with a wrong type, naming the field, with exit 2', async () => {
    json('gates.json', { min_accuracy: '0.9' });
    const r = await slipway('gate', '--metrics', json('m.json', { accuracy: 1 }), '--config', 'gates.json');
    expect(r.stderr).toContain('gates.json: min_accuracy: expected number, received string');
    expect(r.code).toBe(2);
  });

  it('fails, with a clear line, when the metrics lack a metric the config names', async () => {
    const metrics = json('partial.json', { accuracy: 0.9, latency_p99_ms: 100, memory_gb: null });
    const config = json('gates-bleu.json', { metrics: { bleu: { threshold: 0.3, direction: 'higher' } } });
    const { report } = await gateCommand({ metrics, config });
    expect(report.passed).toBe(false);
    const r = await slipway('gate', '--metrics', metrics, '--config', config);
    expect(r.stdout).toContain('❌ memory_gb: missing from the metrics (required <= 16)');
    expect(r.stdout).toContain('❌ bleu: missing from the metrics (required >= 0.3)');
    expect(r.code).toBe(1);
  });
});

describe('slipway eval and smoke', () => {
  it('evaluates as a process, and its --json output passes through the gate', async () => {
    const dataset = writeDataset(dir, 'eval.jsonl', [{ prompt: 'What is 2+2?', expected: '4' }, { prompt: 'other', expected: 'no' }]);
    const r = await slipway('eval', '--endpoint', server.url, '--dataset', dataset, '--concurrency', '2', '--out', 'out', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accuracy: 0.5, total: 2, correct: 1, cached: false });
    writeFileSync(path.join(dir, 'metrics.json'), r.stdout);
    const gate = await slipway('gate', '--metrics', 'metrics.json', '--config', json('g.json', { min_accuracy: 0.4, max_memory_gb: 16 }));
    expect(gate.stdout).toContain('❌ memory_gb: missing from the metrics');
    expect(gate.code).toBe(1);
  });

  it('refuses a malformed dataset with file:line and exit 2', async () => {
    const dataset = writeDataset(dir, 'broken.jsonl', [{ prompt: 'a', expected: 'a' }, { prompt: 'b', expected: 'b', scorer: 'fuzzy' }]);
    const r = await slipway('eval', '--endpoint', server.url, '--dataset', dataset);
    expect(r.stderr).toMatch(/broken\.jsonl:2: scorer: /);
    expect(r.code).toBe(2);
  });

  it('smoke exits 1 on the first failure, naming the prompt, and 0 when all pass', async () => {
    const ok = await slipway('smoke', '--endpoint', server.url);
    expect(ok.stdout).toContain('Smoke test passed.');
    expect(ok.code).toBe(0);
    server.behaviour.emptyContent = true;
    try {
      const bad = await slipway('smoke', '--endpoint', server.url);
      expect(bad.stdout).toContain('Smoke test failed: "Hello": empty content');
      expect(bad.code).toBe(1);
    } finally {
      server.behaviour.emptyContent = false;
    }
  });

  it('shows an example in --help', async () => {
    for (const command of ['eval', 'gate', 'smoke']) {
      const help = (await slipway(command, '--help')).stdout;
      expect(help).toContain('Example:');
      expect(help).toContain(`$ slipway ${command} --`);
    }
  });
});
