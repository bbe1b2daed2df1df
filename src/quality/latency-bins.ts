// Latencies as a few bins for a chart: compact enough to travel in an evaluation's summary (and so
// in history), exact enough to see the shape. Pure: shared by the evaluation and the report.

export interface LatencyBin {
  /** Lower and upper edge of the bin, in milliseconds (the last bin includes its upper edge). */
  fromMs: number;
  toMs: number;
  count: number;
}

/** `bins` equal-width bins from the fastest to the slowest latency; empty for no values. */
export function binLatencies(values: number[], bins = 20): LatencyBin[] {
  const finite = values.filter((v) => Number.isFinite(v) && v >= 0);
  if (!finite.length) return [];
  // A loop, not Math.min(...finite): spreading a large evaluation's latencies overflows the stack.
  let [min, max] = [Infinity, -Infinity];
  for (const v of finite) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const width = (max - min) / bins || 1;
  const out = Array.from({ length: bins }, (_, i) => ({ fromMs: round(min + i * width), toMs: round(min + (i + 1) * width), count: 0 }));
  for (const v of finite) out[Math.min(bins - 1, Math.floor((v - min) / width))]!.count += 1;
  return out;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
