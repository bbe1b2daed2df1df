// Production metrics from a model server's Prometheus /metrics (through the stable endpoint): a small parser
// for the text exposition format, a compact snapshot that fits in workflow history, and the
// statistics of the window between two snapshots.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** What one scrape keeps: counters and the latency histogram, summed over any extra labels. */
export interface Snapshot {
  /** ms since the epoch, when the scrape finished. */
  at: number;
  requestsByStatus: Record<string, number>;
  /** Cumulative finite buckets [upper bound in seconds, count]; +Inf is `count` (JSON has no Infinity). */
  buckets: Array<[le: number, count: number]>;
  count: number;
  /** Seconds. */
  sum: number;
  rssBytes: number | null;
  /** The version that answered, from the `x-slipway-version` header a server may echo; null when it does not. */
  version: string | null;
}

export interface WindowStats {
  requests: number;
  /** Share of requests answered 5xx; 0 when there were none. */
  errorRate: number;
  latencyP99Ms: number | null;
}

/** The local target gives each model server SLIPWAY_VERSION; a server that echoes it in this header names itself. */
export const VERSION_HEADER = 'x-slipway-version';
const REQUESTS = 'slipway_model_requests_total';
const DURATION = 'slipway_model_request_duration_seconds';
const RSS = 'process_resident_memory_bytes';

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text); // 'NaN' parses to NaN as well.
}

/** Parses `{a="x",b="y\"z"}` starting at `i` (just past '{'); returns the labels and the index after '}'. */
function parseLabels(line: string, i: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return [labels, i + 1];
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') throw new Error(`bad label set: ${line}`);
    const key = line.slice(i, eq).trim();
    let value = '';
    for (i = eq + 2; i < line.length && line[i] !== '"'; i++) {
      if (line[i] === '\\') {
        const next = line[++i];
        value += next === 'n' ? '\n' : (next ?? '');
      } else value += line[i];
    }
    if (i >= line.length) throw new Error(`unterminated label value: ${line}`);
    labels[key] = value;
    i++;
  }
}

/** Parses the Prometheus text format into samples; comments, HELP and TYPE lines are skipped. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{\s]/);
    if (nameEnd < 0) throw new Error(`sample without a value: ${line}`);
    const name = line.slice(0, nameEnd);
    let labels: Record<string, string> = {};
    let rest = nameEnd;
    if (line[nameEnd] === '{') [labels, rest] = parseLabels(line, nameEnd + 1);
    // Value, then an optional timestamp we do not need.
    const [value] = line.slice(rest).trim().split(/\s+/);
    if (value === undefined || value === '') throw new Error(`sample without a value: ${line}`);
    samples.push({ name, labels, value: parseValue(value) });
  }
  return samples;
}

/** Builds a snapshot from one scrape's text. */
export function snapshotFrom(text: string, at = Date.now(), version: string | null = null): Snapshot {
  const requestsByStatus: Record<string, number> = {};
  const byLe = new Map<number, number>();
  let count = 0;
  let sum = 0;
  let rssBytes: number | null = null;
  for (const s of parsePrometheus(text)) {
    if (s.name === REQUESTS) {
      const status = s.labels.status ?? 'unknown';
      requestsByStatus[status] = (requestsByStatus[status] ?? 0) + s.value;
    } else if (s.name === `${DURATION}_bucket`) {
      const le = parseValue(s.labels.le ?? '+Inf');
      if (Number.isFinite(le)) byLe.set(le, (byLe.get(le) ?? 0) + s.value);
    } else if (s.name === `${DURATION}_count`) count += s.value;
    else if (s.name === `${DURATION}_sum`) sum += s.value;
    else if (s.name === RSS) rssBytes = (rssBytes ?? 0) + s.value;
  }
  const buckets = [...byLe.entries()].sort((a, b) => a[0] - b[0]);
  return { at, requestsByStatus, buckets, count, sum, rssBytes, version };
}

/** Scrapes `<url>/metrics` once. Throws on network errors and non-2xx answers. */
export async function sampleServing(url: string, timeoutMs = 5_000): Promise<Snapshot> {
  const res = await fetch(new URL('/metrics', url), { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET ${url}/metrics answered ${res.status}`);
  }
  return snapshotFrom(await res.text(), Date.now(), res.headers.get(VERSION_HEADER));
}

const total = (byStatus: Record<string, number>) => Object.values(byStatus).reduce((a, b) => a + b, 0);

/**
 * Statistics of the requests between two scrapes. A counter that went down means the server
 * restarted; a different version header means the stable endpoint now reaches another server.
 * Either way, as Prometheus' rate() does on a reset, the window counts from zero.
 */
export function windowStats(prev: Snapshot, next: Snapshot): WindowStats {
  const reset = (prev.version ?? null) !== (next.version ?? null) || next.count < prev.count || total(next.requestsByStatus) < total(prev.requestsByStatus);
  const base: Snapshot = reset ? { ...prev, requestsByStatus: {}, buckets: [], count: 0, sum: 0 } : prev;
  let requests = 0;
  let errors = 0;
  for (const [status, n] of Object.entries(next.requestsByStatus)) {
    const delta = Math.max(0, n - (base.requestsByStatus[status] ?? 0));
    requests += delta;
    if (status.startsWith('5')) errors += delta;
  }
  const before = new Map(base.buckets);
  const deltas = next.buckets.map(([le, n]): [number, number] => [le, Math.max(0, n - (before.get(le) ?? 0))]);
  return { requests, errorRate: requests === 0 ? 0 : errors / requests, latencyP99Ms: quantileMs(0.99, deltas, next.count - base.count) };
}

/**
 * histogram_quantile over cumulative bucket counts: find the bucket holding the rank and
 * interpolate linearly inside it. A rank in the +Inf bucket answers the highest finite bound.
 */
export function quantileMs(q: number, buckets: Array<[number, number]>, count: number): number | null {
  if (count <= 0) return null;
  const rank = q * count;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const [le, cumulative] of buckets) {
    if (cumulative >= rank) {
      const inBucket = cumulative - lowerCount;
      const fraction = inBucket > 0 ? (rank - lowerCount) / inBucket : 1;
      return (lowerLe + (le - lowerLe) * fraction) * 1000;
    }
    lowerLe = le;
    lowerCount = cumulative;
  }
  return buckets.length > 0 ? lowerLe * 1000 : null;
}
