// What the release report shows, gathered from Temporal: the status, and from the run's history the
// training loss curves and evaluation summaries (activity results), for every run of the chain.
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { existsSync, readFileSync } from 'node:fs';
import type { EvalSummary } from '../../activities/evaluation/types.js';
import type { LossPoint, TrainResult } from '../../activities/jobs/types.js';
import { binLatencies, type LatencyBin } from '../../quality/latency-bins.js';
import { safeName } from '../../workflows/candidates.js';
import type { ReleaseView, SlipwayClient } from '../slipway-client.js';

export interface VariantReport {
  name: string;
  loss: LossPoint[];
  latency: LatencyBin[];
  eval?: Pick<EvalSummary, 'total' | 'correct' | 'accuracy' | 'latency_p50_ms' | 'latency_p95_ms' | 'latency_p99_ms' | 'requests_per_second' | 'errors' | 'cached'>;
  trainingMs?: number;
}

export interface ReportData {
  view: ReleaseView;
  generatedAt: string;
  variants: VariantReport[];
}

type Event = temporal.api.history.v1.IHistoryEvent;

/** Collects the report's data for a release (its status and what its history recorded). */
export async function reportData(slipway: SlipwayClient, workflowId: string): Promise<ReportData> {
  const view = await slipway.status(workflowId);
  const events = await chainHistory(slipway.client, workflowId, view.execution.runId);
  const scheduled = new Map<string, { type: string; input: Record<string, unknown>; at: number }>();
  const results: Array<{ type: string; input: Record<string, unknown>; result: unknown; ms: number }> = [];
  const converter = slipway.client.options.loadedDataConverter;
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const input = (await decodeFromPayloadsAtIndex<Record<string, unknown>>(converter, 0, s.input?.payloads)) ?? {};
      scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '', input, at: millis(e.eventTime) });
    }
    const c = e.activityTaskCompletedEventAttributes;
    const from = c && scheduled.get(String(c.scheduledEventId));
    if (c && from && (from.type === 'trainModel' || from.type === 'evaluateModel')) {
      const result = await decodeFromPayloadsAtIndex(converter, 0, c.result?.payloads);
      results.push({ type: from.type, input: from.input, result, ms: millis(e.eventTime) - from.at });
    }
  }
  const variants = view.variants.map((v): VariantReport => {
    const job = safeName(view.pipeline, view.release, v.name);
    const trained = results.find((r) => r.type === 'trainModel' && r.input.jobName === job);
    const evaluated = results.find((r) => r.type === 'evaluateModel' && r.input.runKey === job);
    const summary = evaluated?.result as EvalSummary | undefined;
    return {
      name: v.name,
      loss: (trained?.result as TrainResult | undefined)?.lossByStep ?? [],
      latency: summary ? (summary.latency_histogram ?? binsFromResultsFile(summary.resultsPath)) : [],
      trainingMs: trained?.ms,
      ...(summary && {
        eval: {
          total: summary.total, correct: summary.correct, accuracy: summary.accuracy, latency_p50_ms: summary.latency_p50_ms,
          latency_p95_ms: summary.latency_p95_ms, latency_p99_ms: summary.latency_p99_ms, requests_per_second: summary.requests_per_second,
          errors: summary.errors, cached: summary.cached,
        },
      }),
    };
  });
  return { view, generatedAt: new Date().toISOString(), variants };
}

/** Every run of a continue-as-new chain, oldest first: training happened in the first one. */
async function chainHistory(client: Client, workflowId: string, runId: string): Promise<Event[]> {
  const runs: Event[][] = [];
  for (let id: string | undefined = runId; id && runs.length < 1000; ) {
    const history: temporal.api.history.v1.IHistory = await client.workflow.getHandle(workflowId, id).fetchHistory();
    const events: Event[] = history.events ?? [];
    runs.unshift(events);
    id = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
  }
  return runs.flat();
}

/** Older cached summaries carry no bins: read the per-row results when they are on this machine. */
function binsFromResultsFile(file: string | undefined): LatencyBin[] {
  if (!file || !existsSync(file)) return [];
  const latencies = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { latency_ms?: number; status?: number }))
    .filter((r) => r.status === 200 && typeof r.latency_ms === 'number')
    .map((r) => r.latency_ms as number);
  return binLatencies(latencies);
}

function millis(t: Event['eventTime']): number {
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}
