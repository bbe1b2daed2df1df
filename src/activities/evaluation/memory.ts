// Peak memory of the serving process, read from its Prometheus /metrics. A server that exports
// its own peak (`slipway_model_peak_memory_bytes`, e.g. torch.cuda.max_memory_allocated) is exact;
// otherwise resident memory is sampled before, during and after the run and the maximum kept.
import { request } from 'undici';

const PREFERRED = ['slipway_model_peak_memory_bytes', 'process_resident_memory_bytes'];
const SAMPLE_EVERY_MS = 1_000;

/** The largest value of the preferred memory metric in a Prometheus text exposition, or null. */
export function parseMemoryBytes(text: string): number | null {
  for (const name of PREFERRED) {
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

/** Reads the memory metric once; null when the server or the metric is not there. */
export async function readMemoryBytes(url: string): Promise<number | null> {
  try {
    const res = await request(url, { signal: AbortSignal.timeout(2_000) });
    const text = await res.body.text();
    return res.statusCode === 200 ? parseMemoryBytes(text) : null;
  } catch {
    return null;
  }
}

/** Samples memory until stop(), which resolves to the peak in GiB (null when never readable). */
export async function watchMemory(url: string): Promise<{ stop(): Promise<number | null> }> {
  let peak: number | null = null;
  const sample = async () => {
    const bytes = await readMemoryBytes(url);
    if (bytes !== null) peak = Math.max(peak ?? 0, bytes);
  };
  await sample();
  let current: Promise<void> = Promise.resolve();
  const timer = setInterval(() => (current = sample()), SAMPLE_EVERY_MS);
  let stopped: Promise<number | null> | undefined;
  const stop = async () => {
    clearInterval(timer);
    await current;
    await sample();
    return peak === null ? null : Math.round((peak / 2 ** 30) * 1e4) / 1e4;
  };
  // Idempotent: the harness stops it on success and again in its cleanup.
  return { stop: () => (stopped ??= stop()) };
}
