import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, inject, it } from 'vitest';
import { runCli } from '../support/processes.js';

it('refuses an invalid spec with one line per field and starts nothing', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bad-spec-'));
  const file = path.join(dir, 'pipeline.yaml');
  writeFileSync(
    file,
    ['name: bad-spec', 'model: { name: bad-spec-model }', 'train: { command: python }', 'serve: { command: [x] }', 'evaluate: { dataset: e.jsonl }', 'gates: { min_accuracy: 1.5, max_latency_ms: fast }', 'approval: { approvers: [] }'].join('\n'),
  );
  const env = { TEMPORAL_ADDRESS: inject('temporalAddress') };
  const res = await runCli(['run', file, '--json'], env);
  expect(res.code).toBe(2);
  expect(res.stderr).toContain('is not a valid pipeline spec');
  expect(res.stderr).toContain('train.command: Invalid input: expected array, received string');
  expect(res.stderr).toContain('gates.min_accuracy: Too big: expected number to be <=1');
  expect(res.stderr).toContain('gates.max_latency_ms: Invalid input: expected number, received string');
  expect(res.stderr).toContain('approval.approvers: list at least one approver');
  const list = await runCli(['list', '--json'], env);
  expect(JSON.parse(list.stdout)).not.toContainEqual(expect.objectContaining({ workflowId: expect.stringContaining('bad-spec-model') }));
});
