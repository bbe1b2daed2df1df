// Peak memory of the serving process, read from its Prometheus /metrics. A server that exports
// its own peak (`slipway_model_peak_memory_bytes`, e.g. torch.cuda.max_memory_allocated) is exact;
// otherwise resident memory (`process_resident_memory_bytes`) is sampled before, during and after
// the run and the maximum kept. A server without either is "not measured", with the reason.
import { request } from 'undici';

export const MEMORY_METRICS = ['slipway_model_peak_memory_bytes', 'process_resident_memory_bytes'] as const;
const SAMPLE_EVERY_MS = 1_000;

/** The largest value of the preferred memory metric in a Prometheus text exposition, or null. */
export function parseMemoryBytes(text: string): number | null {
  for (const name of MEMORY_METRICS) {
    let best: number | null = null;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
      const value = Number(line.slice(line.lastIndexOf('}') + 1 || name.length).trim().split(/\s+/)[0]);
      if (Number.isFinite(value)) best = Math.max(best ?? 0, value);
    }
    if (best !== null) return best;
  }
  return null;
}

export type MemoryReading = { bytes: number } | { problem: string };

/** Reads the memory metric once; says why when the server or the metric is not there. */
export async function readMemoryBytes(url: string): Promise<MemoryReading> {
  try {
    const res = await request(url, { signal: AbortSignal.timeout(2_000) });
    const text = await res.body.text();
    if (res.statusCode !== 200) return { problem: `${url} answered HTTP ${res.statusCode}` };
    const bytes = parseMemoryBytes(text);
    return bytes === null ? { problem: `${url} has neither ${MEMORY_METRICS.join(' nor ')}` } : { bytes };
  } catch (err) {
    return { problem: `${url} unreachable (${(err as { code?: string }).code ?? (err as Error).message})` };
  }
}

/** The peak in GiB, or null with the reason it was not measured. */
export interface MemoryResult {
  gb: number | null;
  problem?: string;
}

/** Samples memory until stop(), which resolves to the peak in GiB (null, with why, when never readable). */
export async function watchMemory(url: string): Promise<{ stop(): Promise<MemoryResult> }> {
  let peak: number | null = null;
  let problem: string | undefined;
  const sample = async () => {
    const reading = await readMemoryBytes(url);
    if ('bytes' in reading) peak = Math.max(peak ?? 0, reading.bytes);
    else problem = reading.problem;
  };
  await sample();
  let current: Promise<void> = Promise.resolve();
  const timer = setInterval(() => (current = sample()), SAMPLE_EVERY_MS);
  let stopped: Promise<MemoryResult> | undefined;
  const stop = async (): Promise<MemoryResult> => {
    clearInterval(timer);
    await current;
    await sample();
    return peak === null ? { gb: null, problem } : { gb: Math.round((peak / 2 ** 30) * 1e4) / 1e4 };
  };
  // Idempotent: the harness stops it on success and again in its cleanup.
  return { stop: () => (stopped ??= stop()) };
}
