import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
