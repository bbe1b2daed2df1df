// Specs recorded by earlier releases stay readable: unknown gates keys (accepted before they were
// refused) are dropped, any other problem is still an error.
import { describe, expect, it } from 'vitest';
import { parseRecordedSpec, PipelineSpecSchema } from '../../src/spec/schema.js';

const base = { name: 'p', model: { name: 'm' }, train: { command: ['true'] }, serve: { command: ['true'] }, evaluate: { dataset: 'e.jsonl' } };

describe('parseRecordedSpec', () => {
  it('reads a recorded spec whose gates carry a key that new specs refuse', () => {
    const recorded = { ...base, gates: { min_accuracy: 0.9, eval_dataset: 'eval.jsonl' } };
    expect(PipelineSpecSchema.safeParse(recorded).success).toBe(false);
    const parsed = parseRecordedSpec(recorded);
    expect(parsed.success).toBe(true);
    expect(parsed.data?.gates).toMatchObject({ min_accuracy: 0.9 });
    expect(parsed.data?.gates).not.toHaveProperty('eval_dataset');
  });

  it('still refuses any other problem', () => {
    const parsed = parseRecordedSpec({ ...base, gates: { min_accuracy: 2, eval_dataset: 'x' } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join('.'))).toContain('gates.min_accuracy');
  });
});
