// train.resources, train.queue_timeout and evaluate.serve_on: validated with errors that name the field and the rule,
// and mapped to what the job asks the cluster for.
import { describe, expect, it } from 'vitest';
import { formatSpecIssues, memoryMiB, PipelineSpecSchema } from '../../src/spec/schema.js';

const base = {
  name: 'p',
  model: { name: 'm' },
  train: { command: ['python', 'train.py'] },
  serve: { command: ['python', 'serve.py'] },
  evaluate: { dataset: 'eval.jsonl' },
};
const issues = (train: Record<string, unknown>) => {
  const parsed = PipelineSpecSchema.safeParse({ ...base, train: { ...base.train, ...train } });
  return parsed.success ? [] : formatSpecIssues(parsed.error);
};

describe('train.resources and train.queue_timeout', () => {
  it('accepts gpus, cpus, memory and partition, and defaults queue_timeout to 24h', () => {
    const parsed = PipelineSpecSchema.parse({ ...base, train: { ...base.train, backend: 'ray', resources: { gpus: 2, cpus: 8, memory: '32Gi', partition: 'gpu' } } });
    expect(parsed.train.resources).toEqual({ gpus: 2, cpus: 8, memory: '32Gi', partition: 'gpu' });
    expect(parsed.train.queue_timeout).toBe('24h');
    expect([memoryMiB('512Mi'), memoryMiB('4Gi'), memoryMiB('1.5Ti')]).toEqual([512, 4096, 1_572_864]);
  });

  it('names the field and the rule for each bad value', () => {
    expect(issues({ resources: { memory: '4GB' } })).toEqual(['train.resources.memory: expected a memory size such as 512Mi, 4Gi or 1Ti']);
    expect(issues({ resources: { gpus: 1.5 } })).toEqual(['train.resources.gpus: expected a whole number of GPUs']);
    expect(issues({ resources: { gpus: -1 } })).toEqual(['train.resources.gpus: expected 0 or more GPUs']);
    expect(issues({ resources: { cpus: 0 } })).toEqual(['train.resources.cpus: expected more than 0 CPUs']);
    expect(issues({ resources: { partition: 'a b' } })).toEqual(['train.resources.partition: expected a partition name (letters, digits, "_", "." or "-")']);
    expect(issues({ resources: { gpu: 1 } })[0]).toMatch(/^train\.resources: .*gpu/);
    expect(issues({ queue_timeout: 'soon' })).toEqual(['train.queue_timeout: expected a duration such as 30s, 10m, 2h or 3d']);
  });
});

describe('evaluate.serve_on', () => {
  it('defaults to the serving role; cluster needs a cluster backend to run the servers on', () => {
    expect(PipelineSpecSchema.parse(base).evaluate.serve_on).toBe('serving');
    expect(PipelineSpecSchema.parse({ ...base, train: { ...base.train, backend: 'slurm' }, evaluate: { ...base.evaluate, serve_on: 'cluster' } }).evaluate.serve_on).toBe('cluster');
    const local = PipelineSpecSchema.safeParse({ ...base, evaluate: { ...base.evaluate, serve_on: 'cluster' } });
    expect(local.success ? [] : formatSpecIssues(local.error)).toEqual([
      'evaluate.serve_on: cluster runs each evaluation server as a job of train.backend: set train.backend to a cluster backend (ray, slurm), or serve_on: serving',
    ]);
    const typo = PipelineSpecSchema.safeParse({ ...base, evaluate: { ...base.evaluate, serve_on: 'gpu' } });
    expect(typo.success ? [] : formatSpecIssues(typo.error)[0]).toMatch(/^evaluate\.serve_on: .*"serving".*"cluster"/);
  });
});
