// A log-linear latency histogram in the style of HdrHistogram: fixed memory and O(1) record,
// with a bounded relative error, so percentiles of a million requests cost the same as of ten.
// Pure (no I/O) so it can be shared by activities, the CLI and benchmarks.

/** Linear sub-buckets per power of two: 2^7 = 128 gives a relative error below 1/128 (0.8%). */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
/** Values are recorded in microseconds; 2^40 µs is about 12 days, far beyond any request. */
const MAX_EXPONENT = 40;

/** Latencies in milliseconds, stored as microsecond buckets. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(2 * SUB + (MAX_EXPONENT - SUB_BITS) * SUB);
  private total = 0;
  private min = Infinity;
  private max = -Infinity;

  get count(): number {
    return this.total;
  }

  /** Records one latency in milliseconds (negative or NaN values are ignored). */
  record(ms: number): void {
    if (!(ms >= 0)) return;
    const us = Math.min(Math.round(ms * 1000), 2 ** MAX_EXPONENT - 1);
    const i = bucketIndex(us);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.total += 1;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  /** Adds another histogram's counts to this one (e.g. one per worker). */
  merge(other: LatencyHistogram): void {
    other.counts.forEach((n, i) => {
      if (n) this.counts[i] = (this.counts[i] ?? 0) + n;
    });
    this.total += other.total;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /**
   * The value at quantile q (0..1) in milliseconds: the midpoint of the bucket that holds the
   * ceil(q·n)-th smallest sample, clamped to the exact min and max (exactly the max for the
   * largest rank); 0 when empty.
   */
  percentile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.total));
    if (rank === this.total) return this.max;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, bucketMidpoint(i) / 1000));
    }
    return this.max;
  }
}

/** Values below 2·SUB are exact; above, each power of two is split into SUB equal buckets. */
function bucketIndex(us: number): number {
  if (us < 2 * SUB) return us;
  const exponent = Math.floor(Math.log2(us));
  const shift = exponent - SUB_BITS;
  const sub = Math.floor(us / 2 ** shift) - SUB;
  return 2 * SUB + (exponent - SUB_BITS - 1) * SUB + sub;
}

function bucketMidpoint(index: number): number {
  if (index < 2 * SUB) return index;
  const offset = index - 2 * SUB;
  const shift = Math.floor(offset / SUB) + 1;
  const sub = offset % SUB;
  const width = 2 ** shift;
  return (SUB + sub) * width + width / 2;
}
