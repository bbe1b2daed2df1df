// The Prometheus parser and window statistics: exact numbers on hand-made scrapes, then a real
// scrape of the test-double model server (in process, with a known delay).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheus, sampleServing, snapshotFrom, windowStats, type Snapshot } from '../../src/activities/metrics/prometheus.js';
import { startFakeModelServer, type FakeModelServer } from '../support/openai-server.js';
import { chat } from './helpers.js';

function scrape(byStatus: Record<string, number>, cumulative: number[], count: number, version: string | null = null): Snapshot {
  const les = [0.005, 0.01, 0.025, 0.05, 0.1];
  const lines = Object.entries(byStatus).map(([s, n]) => `slipway_model_requests_total{status="${s}"} ${n}`);
  les.forEach((le, i) => lines.push(`slipway_model_request_duration_seconds_bucket{le="${le}"} ${cumulative[i]}`));
  lines.push(`slipway_model_request_duration_seconds_bucket{le="+Inf"} ${count}`, `slipway_model_request_duration_seconds_count ${count}`);
  lines.push('slipway_model_request_duration_seconds_sum 1.5', 'process_resident_memory_bytes 1234');
  return snapshotFrom(lines.join('\n'), 0, version);
}

describe('parsePrometheus', () => {
  it('reads names, escaped labels, special values and ignores comments and timestamps', () => {
    const text = [
      '# HELP x_total Things.',
      '# TYPE x_total counter',
      'x_total{a="q\\"uote",b="line\\nbreak",c="back\\\\slash"} 1.5 1700000000000',
      'plain 3',
      'h_bucket{le="+Inf"} 7',
      'weird NaN',
      '',
    ].join('\n');
    const samples = parsePrometheus(text);
    expect(samples[0]).toEqual({ name: 'x_total', labels: { a: 'q"uote', b: 'line\nbreak', c: 'back\\slash' }, value: 1.5 });
    expect(samples[1]).toEqual({ name: 'plain', labels: {}, value: 3 });
    expect(samples[2]).toEqual({ name: 'h_bucket', labels: { le: '+Inf' }, value: 7 });
    expect(samples[3]?.value).toBeNaN();
    expect(samples).toHaveLength(4);
  });

  it('builds a small JSON snapshot; +Inf is the count, not a bucket', () => {
    const snap = scrape({ '200': 3 }, [1, 2, 3, 3, 3], 3);
    expect(snap).toEqual({
      at: 0,
      requestsByStatus: { '200': 3 },
      buckets: [[0.005, 1], [0.01, 2], [0.025, 3], [0.05, 3], [0.1, 3]],
      count: 3,
      sum: 1.5,
      rssBytes: 1234,
      version: null,
    });
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });
});

describe('windowStats', () => {
  it('computes the 5xx share and an interpolated p99 from bucket deltas', () => {
    const prev = scrape({ '200': 10 }, [0, 10, 10, 10, 10], 10);
    // This window: 50 requests in (5,10] ms, 40 in (10,25] ms, 10 in (25,50] ms.
    const next = scrape({ '200': 70, '500': 25, '503': 10, '429': 5 }, [0, 60, 100, 110, 110], 110);
    const w = windowStats(prev, next);
    expect(w.requests).toBe(100);
    expect(w.errorRate).toBeCloseTo(0.35, 10);
    // Rank 99 falls in the (25,50] bucket, 9 of its 10: 25 + 25 * 9/10.
    expect(w.latencyP99Ms).toBeCloseTo(47.5, 10);
  });

  it('answers the highest finite bound when the rank lies in +Inf, and null for an empty window', () => {
    const prev = scrape({}, [0, 0, 0, 0, 0], 0);
    expect(windowStats(prev, scrape({ '200': 10 }, [0, 0, 0, 0, 5], 10)).latencyP99Ms).toBeCloseTo(100, 10);
    expect(windowStats(prev, prev)).toEqual({ requests: 0, errorRate: 0, latencyP99Ms: null });
  });

  it('counts from zero after a counter reset or a switch to another version', () => {
    const before = scrape({ '200': 100 }, [100, 100, 100, 100, 100], 100, 'v1');
    const restarted = scrape({ '500': 4 }, [0, 0, 4, 4, 4], 4, 'v1');
    expect(windowStats(before, restarted)).toMatchObject({ requests: 4, errorRate: 1 });
    const switched = scrape({ '200': 300, '500': 100 }, [400, 400, 400, 400, 400], 400, 'v2');
    expect(windowStats(before, switched)).toMatchObject({ requests: 400, errorRate: 0.25 });
  });
});

describe('sampleServing on a real server', () => {
  let server: FakeModelServer;
  beforeAll(async () => {
    server = await startFakeModelServer({ delayMs: 30 });
  });
  afterAll(() => server.close());

  it('scrapes twice and sees exactly the requests sent between, none faster than the delay', async () => {
    const prev = await sampleServing(server.url);
    for (let i = 0; i < 20; i++) expect((await chat(server.url, `q${i}`)).status).toBe(200);
    server.behaviour.failCount = 5;
    for (let i = 0; i < 5; i++) expect((await chat(server.url, `f${i}`)).status).toBe(500);
    const next = await sampleServing(server.url);
    const w = windowStats(prev, next);
    expect(w.requests).toBe(25);
    expect(w.errorRate).toBeCloseTo(0.2, 10);
    // Every request slept 30 ms, so no request may sit in a bucket at or below 25 ms.
    expect(next.buckets.find(([le]) => le === 0.025)?.[1]).toBe(0);
    expect(w.latencyP99Ms).toBeGreaterThanOrEqual(25);
    expect(next.rssBytes).toBeGreaterThan(0);
  });
});
