import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResultsWriter } from '../../src/activities/evaluation/results.js';
import { tempDir } from './support/dataset.js';

describe('ResultsWriter', () => {
  it('lets two writers of the same results file (a retry beside the attempt it replaces) both finish whole', async () => {
    const dir = tempDir();
    const [a, b] = await Promise.all([ResultsWriter.open(dir, 'same-run'), ResultsWriter.open(dir, 'same-run')]);
    for (let i = 0; i < 2_000; i++) {
      a.add(i, { writer: 'a', i });
      b.add(i, { writer: 'b', i });
    }
    const digests = await Promise.all([a.finish(), b.finish()]);
    const lines = readFileSync(a.finalPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { writer: string; i: number });
    // The file is one writer's rows, all of them in order, never a mix of both.
    expect(lines).toHaveLength(2_000);
    expect(new Set(lines.map((l) => l.writer)).size).toBe(1);
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
    expect(digests[0]).not.toBe(digests[1]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(path.basename(a.finalPath)).toBe('same-run.jsonl');
  });
});
