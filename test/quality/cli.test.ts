import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateCommand } from '../../src/client/commands/gate.js';
import { startFakeModelServer, type FakeModelServer } from '../support/openai-server.js';
import { tempDir, totalRequests, writeDataset } from './support/dataset.js';
import { startDelayServer } from './support/delay-server.js';
import { chatAnswer, EMPTY_OBJECT, HTML_PAGE, startOddServer } from './support/odd-server.js';

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

  it('refuses a gated metric that is not a number (exit 2), rather than calling it missing', async () => {
    const r = await slipway('gate', '--metrics', json('words.json', { accuracy: 'high', latency_p99_ms: 100 }), '--config', json('acc-gates.json', { min_accuracy: 0.8 }));
    expect(r.stderr).toContain('words.json: accuracy: expected a number, got "high"');
    expect(r.stdout).toBe('');
    expect(r.code).toBe(2);
  });

  it('fails, with a clear line, when the metrics lack a metric the config names', async () => {
    const metrics = json('partial.json', { accuracy: 0.9, latency_p99_ms: 100, memory_gb: null });
    const config = json('gates-bleu.json', { metrics: { bleu: { threshold: 0.3, direction: 'higher' } } });
    const { report } = await gateCommand({ metrics, config });
    expect(report.passed).toBe(false);
    const r = await slipway('gate', '--metrics', metrics, '--config', config);
    expect(r.stdout).toContain('❌ bleu: missing from the metrics (required >= 0.3)');
    expect(r.code).toBe(1);
  });

  it('skips an unmeasured memory under the default limit with a ⚠️ line, and fails it when max_memory_gb is set', async () => {
    const metrics = json('no-memory.json', { accuracy: 0.9, latency_p99_ms: 100, memory_gb: null });
    const lenient = await slipway('gate', '--metrics', metrics, '--config', json('default-gates.json', { min_accuracy: 0.85 }));
    expect(lenient.stdout).toContain('⚠️ memory_gb not measured: check skipped (set max_memory_gb to require a measurement)');
    expect(lenient.stdout).not.toContain('❌');
    expect(lenient.code).toBe(0);
    const strict = await slipway('gate', '--metrics', metrics, '--config', json('memory-gates.json', { max_memory_gb: 16 }));
    expect(strict.stdout).toContain('❌ memory_gb: not measured (required <= 16)');
    expect(strict.code).toBe(1);
    // Measured memory meets the default limit even when the config does not name it.
    const heavy = await slipway('gate', '--metrics', json('heavy.json', { accuracy: 0.9, latency_p99_ms: 100, memory_gb: 20 }), '--config', 'default-gates.json');
    expect(heavy.stdout).toContain('❌ memory_gb: 20 (required <= 16)');
    expect(heavy.code).toBe(1);
  });

  it('warns about a key in gates.json that looks like a misspelt gate, and still accepts other keys', async () => {
    json('typo.json', { min_acuracy: 0.9, eval_dataset: 'eval.jsonl' });
    const r = await slipway('gate', '--metrics', json('m2.json', { accuracy: 0.86, latency_p99_ms: 100 }), '--config', 'typo.json');
    expect(r.stderr).toBe('slipway gate: ⚠️ typo.json: min_acuracy: not a gate, ignored; did you mean min_accuracy?\n');
    expect(r.stdout).toContain('✅ accuracy: 0.86 (required >= 0.85)');
    expect(r.code).toBe(0);
  });
});

describe('slipway eval and smoke', () => {
  it("evaluates as a process, measures memory at the endpoint's /metrics, and its --json output passes the gate", async () => {
    const dataset = writeDataset(dir, 'eval.jsonl', [{ prompt: 'What is 2+2?', expected: '4' }, { prompt: 'other', expected: 'no' }]);
    const r = await slipway('eval', '--endpoint', server.url, '--dataset', dataset, '--concurrency', '2', '--out', 'out', '--json');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { memory_gb: number | null };
    expect(summary).toMatchObject({ accuracy: 0.5, total: 2, correct: 1, cached: false });
    expect(summary.memory_gb).toBeGreaterThan(0);
    writeFileSync(path.join(dir, 'metrics.json'), r.stdout);
    const gate = await slipway('gate', '--metrics', 'metrics.json', '--config', json('g.json', { min_accuracy: 0.4, max_memory_gb: 16 }));
    expect(gate.stdout).toMatch(/✅ memory_gb: [\d.]+ \(required <= 16\)/);
    expect(gate.code).toBe(0);
  });

  it("runs the README's eval → gate against a server without /metrics: memory not measured, gate passes with a warning", async () => {
    const bare = await startDelayServer();
    try {
      const dataset = writeDataset(dir, 'bare.jsonl', [{ prompt: 'same', expected: 'same' }]);
      const table = await slipway('eval', '--endpoint', bare.url, '--dataset', dataset, '--out', 'out');
      expect(table.stdout).toContain(`memory               not measured (${bare.url}/metrics answered HTTP 404)`);
      expect(table.code).toBe(0);
      const r = await slipway('eval', '--endpoint', bare.url, '--dataset', dataset, '--out', 'out', '--json');
      writeFileSync(path.join(dir, 'bare-metrics.json'), r.stdout);
      const gate = await slipway('gate', '--metrics', 'bare-metrics.json', '--config', json('readme-gates.json', { min_accuracy: 0.85, max_latency_ms: 500 }));
      expect(gate.stdout).toContain('⚠️ memory_gb not measured');
      expect(gate.stdout).toContain('Gate passed.');
      expect(gate.code).toBe(0);
    } finally {
      await bare.close();
    }
  });

  it('exits 1 naming the responses that were not chat completions: all of them, or some (summary still printed)', async () => {
    const dataset = writeDataset(dir, 'odd.jsonl', [1, 2, 3, 4].map(() => ({ prompt: 'What is 2+2?', expected: '4' })));
    const page = await startOddServer(() => HTML_PAGE);
    try {
      const r = await slipway('eval', '--endpoint', page.url, '--dataset', dataset, '--out', 'out');
      expect(r.stderr).toMatch(/^slipway eval: 4 of 4 responses were not OpenAI chat completions: first: HTTP 200 text\/html, body not JSON: <!doctype html>/);
      expect(r.stdout).toBe('');
      expect(r.code).toBe(1);
    } finally {
      await page.close();
    }
    const mixed = await startOddServer((n) => (n === 1 ? EMPTY_OBJECT : chatAnswer('4')));
    try {
      const r = await slipway('eval', '--endpoint', mixed.url, '--dataset', dataset, '--out', 'out', '--concurrency', '1', '--json');
      expect(JSON.parse(r.stdout)).toMatchObject({ correct: 3, errors: { invalid_response: 1 } });
      expect(r.stderr).toBe('slipway eval: 1 of 4 responses were not OpenAI chat completions: first: HTTP 200 application/json, no choices[0].message.content: {}\n');
      expect(r.code).toBe(1);
    } finally {
      await mixed.close();
    }
  });

  it('caches by --artifact in <state-dir>/cache/eval, and --no-cache runs again', async () => {
    const dataset = writeDataset(dir, 'cached.jsonl', [{ prompt: 'What is 2+2?', expected: '4' }]);
    const artifact = json('model.json', { weights: [1, 2, 3] });
    const run = (...more: string[]) => slipway('eval', '--endpoint', server.url, '--dataset', dataset, '--out', 'out', '--state-dir', 'state', '--artifact', artifact, '--json', ...more);
    const sent = () => totalRequests(server.counts);
    const before = sent();
    expect(JSON.parse((await run()).stdout)).toMatchObject({ cached: false });
    expect(readdirSync(path.join(dir, 'state', 'cache', 'eval'))).toHaveLength(1);
    expect(JSON.parse((await run()).stdout)).toMatchObject({ cached: true });
    expect(sent()).toBe(before + 1);
    expect(JSON.parse((await run('--no-cache')).stdout)).toMatchObject({ cached: false });
    expect(sent()).toBe(before + 2);
    json('model.json', { weights: [1, 2, 4] }); // another model: a miss
    expect(JSON.parse((await run()).stdout)).toMatchObject({ cached: false });
    expect(sent()).toBe(before + 3);
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
