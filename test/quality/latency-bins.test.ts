// The evaluation summary's latency bins (the report's histogram): edges, counts, and a large evaluation.
import { describe, expect, it } from 'vitest';
import { binLatencies } from '../../src/quality/latency-bins.js';

describe('binLatencies', () => {
  it('spreads values over equal-width bins from the fastest to the slowest, the slowest in the last bin', () => {
    const bins = binLatencies([10, 20, 30, 40, 50], 4);
    expect(bins.map((b) => [b.fromMs, b.toMs, b.count])).toEqual([[10, 20, 1], [20, 30, 1], [30, 40, 1], [40, 50, 2]]);
    expect(binLatencies([], 4)).toEqual([]);
    expect(binLatencies([Number.NaN, -1], 4)).toEqual([]);
  });

  it('bins the latencies of a 500,000-row evaluation (spreading them into Math.min overflowed the stack)', () => {
    const values = Array.from({ length: 500_000 }, (_, i) => 1 + (i % 1000) / 10);
    const bins = binLatencies(values, 20);
    expect(bins).toHaveLength(20);
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(500_000);
    expect(bins[0]!.fromMs).toBe(1);
    expect(bins.at(-1)!.toMs).toBe(100.9);
  });
});
