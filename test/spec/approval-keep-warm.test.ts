// approval.keep_candidate_warm: off unless asked for, and a value that is not true/false is named.
import { describe, expect, it } from 'vitest';
import { formatSpecIssues, PipelineSpecSchema } from '../../src/spec/schema.js';

const base = {
  name: 'p',
  model: { name: 'm' },
  train: { command: ['python', 'train.py'] },
  serve: { command: ['python', 'serve.py'] },
  evaluate: { dataset: 'eval.jsonl' },
};
const parse = (approval: Record<string, unknown>) => PipelineSpecSchema.safeParse({ ...base, approval: { approvers: ['alice'], ...approval } });

describe('approval.keep_candidate_warm', () => {
  it('defaults to false (the candidate stops while the release waits) and takes true', () => {
    expect(parse({}).data?.approval?.keep_candidate_warm).toBe(false);
    expect(parse({ keep_candidate_warm: true }).data?.approval?.keep_candidate_warm).toBe(true);
  });

  it('names the field when the value is not a boolean', () => {
    const parsed = parse({ keep_candidate_warm: 'yes' });
    expect(parsed.success).toBe(false);
    expect(formatSpecIssues(parsed.error!)).toEqual([expect.stringMatching(/^approval\.keep_candidate_warm: .*boolean/)]);
  });
});
