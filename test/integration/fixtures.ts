import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { PipelineSpecInput } from '../../src/spec/schema.js';
import { packageRoot } from '../../src/system/tools.js';

const countingJob = path.join(packageRoot, 'test', 'fixtures', 'jobs', 'counting-job.mjs');
const fakeModelServer = path.join(packageRoot, 'test', 'support', 'openai-server-main.ts');

/**
 * Writes a spec whose training job is the counting-job fixture (a real subprocess standing in for
 * a GPU job) and whose model server is the fake OpenAI server (a real HTTP server standing in for
 * vLLM); everything else (Temporal, MLflow, deploy, eval, smoke, monitor) is real.
 */
export function writeSpec(overrides: Partial<PipelineSpecInput> & { name: string; deployPort: number }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-spec-'));
  // The fake server answers `echo: <prompt>`, so `contains` with the prompt scores every row right.
  const rows = ['2+2', '3+5', 'capital of France'].map((p) => JSON.stringify({ prompt: p, expected: p, scorer: 'contains' }));
  writeFileSync(path.join(dir, 'eval.jsonl'), `${rows.join('\n')}\n`);
  const { deployPort, ...rest } = overrides;
  const spec: PipelineSpecInput = {
    model: { name: `${overrides.name}-model` },
    train: { command: [process.execPath, countingJob], params: { steps: 20, 'step-ms': 20, 'checkpoint-every': 5 }, heartbeat_timeout: '3s' },
    serve: { command: [process.execPath, '--import', 'tsx', fakeModelServer, '--port', '{port}', '--model', '{model}'], cwd: packageRoot },
    evaluate: { dataset: 'eval.jsonl', concurrency: 2 },
    deploy: { port: deployPort },
    monitor: { duration: '4s', interval: '1s' },
    ...rest,
  };
  const file = path.join(dir, 'pipeline.json');
  writeFileSync(file, JSON.stringify(spec, null, 2));
  return file;
}

const tinyLlm = path.join(packageRoot, 'examples', 'tiny-llm');

/**
 * The tiny-llm example's own spec (examples/tiny-llm/pipeline.yaml) for a short release on `backend`:
 * its real trainer (through the Python job helper) and model server, with few steps, one thread, the
 * first `evalRows` rows of its eval set, a gate a few-step model can pass, no approval, and a short
 * monitor. Everything else (commands, data, serve settings) is the example's.
 */
export function writeTinyLlmSpec(opts: { name: string; deployPort: number; backend: string; steps?: number; evalRows?: number }): string {
  const example = YAML.parse(readFileSync(path.join(tinyLlm, 'pipeline.yaml'), 'utf8')) as PipelineSpecInput & { approval?: unknown; ci?: unknown; notify?: unknown };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-tiny-spec-'));
  const rows = readFileSync(path.join(tinyLlm, 'eval.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, opts.evalRows ?? 12);
  writeFileSync(path.join(dir, 'eval.jsonl'), `${rows.join('\n')}\n`);
  // No approval, layered CI or webhook: this release runs unattended.
  delete example.approval;
  delete example.ci;
  delete example.notify;
  const spec: PipelineSpecInput = {
    ...example,
    name: opts.name,
    model: { name: `${opts.name}-model` },
    train: {
      ...example.train,
      backend: opts.backend,
      cwd: tinyLlm,
      params: { ...example.train.params, steps: opts.steps ?? 20, 'checkpoint-every': 10, 'batch-size': 16 },
      env: { SLIPWAY_TORCH_THREADS: '1' },
      heartbeat_timeout: '20s',
    },
    serve: { ...example.serve, cwd: tinyLlm },
    evaluate: { ...example.evaluate, dataset: 'eval.jsonl', concurrency: 2 },
    // A few-step model answers wrong: the gate under test is the pipeline's, not the model's quality.
    gates: { min_accuracy: 0, max_latency_ms: 30_000, max_memory_gb: 16 },
    deploy: { port: opts.deployPort },
    monitor: { duration: '4s', interval: '1s', max_latency_p99_ms: 30_000 },
    mlflow: { experiment: opts.name },
  };
  const file = path.join(dir, 'pipeline.json');
  writeFileSync(file, JSON.stringify(spec, null, 2));
  return file;
}
