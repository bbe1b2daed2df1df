// Prometheus' HTTP API, instant queries only: what a canary analysis measures.

/** A query Prometheus refused or could not run; counts against the analysis' error limit. */
export class PrometheusQueryError extends Error {
  readonly code = 'SLIPWAY_PROMETHEUS_QUERY';
}

interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  data?: { resultType: 'vector' | 'scalar' | 'matrix' | 'string'; result: unknown };
}

/**
 * Runs an instant query; returns its one number, or null when it answers nothing (an empty
 * vector: no traffic). A query that answers several series must aggregate them (sum, max...).
 */
export async function queryInstant(baseUrl: string, query: string, timeoutMs = 10_000): Promise<number | null> {
  const url = new URL('/api/v1/query', baseUrl);
  url.searchParams.set('query', query);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new PrometheusQueryError(`Prometheus at ${baseUrl} unreachable: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => null)) as QueryAnswer | null;
  if (!body || body.status !== 'success' || !body.data) {
    throw new PrometheusQueryError(`Prometheus refused the query (${res.status}${body?.errorType ? ` ${body.errorType}` : ''}): ${body?.error ?? 'no answer'}`);
  }
  const { resultType, result } = body.data;
  if (resultType === 'scalar') return Number((result as [number, string])[1]);
  if (resultType !== 'vector') throw new PrometheusQueryError(`expected a vector or scalar, got a ${resultType}`);
  const series = result as Array<{ value: [number, string] }>;
  if (series.length === 0) return null;
  if (series.length > 1) throw new PrometheusQueryError(`the query answered ${series.length} series; aggregate it to one (sum, max, ...)`);
  const value = Number(series[0]!.value[1]);
  return Number.isNaN(value) ? null : value;
}
