// Canary activities on the serving role: weights through the deploy target, and one analysis
// measurement through Prometheus. A failed measurement is an answer (it counts against the
// analysis' error limit), never a retried activity.
import { log } from '@temporalio/activity';
import { heartbeating } from '../heartbeating.js';
import { createHash } from 'node:crypto';
import { chatRequestBody, loadDataset, type DatasetRow } from '../evaluation/dataset.js';
import { ChatClient } from '../evaluation/http.js';
import { asActivityFailure } from '../../errors.js';
import { renderQuery } from '../../rollout/templates.js';
import { PrometheusQueryError, queryInstant } from '../metrics/prometheus-api.js';
import { unknownImplementation } from '../registry.js';
import type { CanaryRequest, CanaryResult, DeployTarget } from './target.js';
import { serviceLabel } from './traefik.js';

export interface SetCanaryWeightInput extends CanaryRequest {
  target?: string;
}

export interface MeasureMetricInput {
  /** PromQL with `{{canary}}`-style placeholders (see rollout/templates.ts). */
  query: string;
  deploymentName: string;
  canaryVersion: string;
  stableVersion: string;
  /** The range of rate() windows: the analysis interval, e.g. `60s`. */
  window: string;
}

export interface MeasureMetricResult {
  value: number | null;
  error?: string;
  query: string;
}

export interface ProbeQualityInput {
  target?: string;
  deploymentName: string;
  canaryVersion: string;
  stableVersion: string;
  /** Absolute path of the probe dataset (the evaluation's JSONL format and scorers). */
  dataset: string;
  sample: number;
  /** Picks the sample: the same seed draws the same prompts, for both versions. */
  seed: string;
  timeoutMs?: number;
}

export interface ProbeCounts {
  correct: number;
  n: number;
}

export interface ProbeQualityResult {
  canary: ProbeCounts;
  stable: ProbeCounts;
  error?: string;
}

/** `sample` rows drawn by a hash of the seed: deterministic, different per seed, without replacement. */
export function drawSample(rows: DatasetRow[], sample: number, seed: string): DatasetRow[] {
  const key = (r: DatasetRow) => createHash('sha256').update(`${seed}:${r.line}`).digest('hex');
  return rows
    .map((r) => [key(r), r] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .slice(0, sample)
    .map(([, r]) => r);
}

/** Asks one version every sampled prompt and scores its answers (a failed request is a wrong answer). */
async function score(endpoint: string, rows: DatasetRow[], timeoutMs: number): Promise<ProbeCounts> {
  const client = new ChatClient(endpoint, { connections: 4, timeoutMs, maxRetries: 1 });
  try {
    const model = (await client.discoverModel()) ?? 'default';
    let correct = 0;
    await Promise.all(
      rows.map(async (row) => {
        const out = await client.complete(chatRequestBody(row, model));
        if (out.content !== undefined && row.score(out.content).correct) correct++;
      }),
    );
    return { correct, n: rows.length };
  } finally {
    await client.close();
  }
}

export function createRolloutActivities(deps: { targets: Record<string, DeployTarget>; prometheusUrl?: string }) {
  return {
    /** Gives the canary its share of the stable endpoint in one router update (0 = abort). */
    async setCanaryWeight({ target: name = 'local', ...request }: SetCanaryWeightInput): Promise<CanaryResult> {
      const target = deps.targets[name];
      if (!target) throw unknownImplementation('DeployTarget', name, deps.targets);
      const result = await heartbeating(() => asActivityFailure(() => target.setCanary(request)));
      log.info('canary weight set', { deployment: request.deploymentName, version: request.version, weights: result.weights });
      return result;
    },

    /** The same sampled probe prompts to the canary and the stable version, each scored like the evaluation. */
    async probeQuality(input: ProbeQualityInput): Promise<ProbeQualityResult> {
      const target = deps.targets[input.target ?? 'local'];
      if (!target) throw unknownImplementation('DeployTarget', input.target ?? 'local', deps.targets);
      const empty = { canary: { correct: 0, n: 0 }, stable: { correct: 0, n: 0 } };
      const status = await asActivityFailure(() => target.status({ deploymentName: input.deploymentName }));
      const endpointOf = (v: string) => status.versions.find((x) => x.version === v && x.running)?.endpoint ?? null;
      const [canary, stable] = [endpointOf(input.canaryVersion), endpointOf(input.stableVersion)];
      if (!canary || !stable) return { ...empty, error: `${!canary ? input.canaryVersion : input.stableVersion} is not running: nothing to probe` };
      let rows: DatasetRow[];
      try {
        rows = drawSample((await loadDataset(input.dataset)).rows, input.sample, input.seed);
      } catch (err) {
        return { ...empty, error: (err as Error).message };
      }
      const timeoutMs = input.timeoutMs ?? 30_000;
      const [c, s] = await Promise.all([score(canary, rows, timeoutMs), score(stable, rows, timeoutMs)]);
      log.info('quality probes', { deployment: input.deploymentName, canary: c, stable: s });
      return { canary: c, stable: s };
    },

    /** One instant query; no traffic answers value null (inconclusive), a failure answers error. */
    async measureMetric(input: MeasureMetricInput): Promise<MeasureMetricResult> {
      const query = renderQuery(input.query, {
        canary: serviceLabel(input.canaryVersion),
        stable: serviceLabel(input.stableVersion),
        canary_version: input.canaryVersion,
        stable_version: input.stableVersion,
        deployment: input.deploymentName,
        window: input.window,
      });
      if (!deps.prometheusUrl) return { value: null, query, error: 'no Prometheus: set SLIPWAY_PROMETHEUS_URL on the serving worker (slipway dev sets it)' };
      try {
        return { value: await queryInstant(deps.prometheusUrl, query), query };
      } catch (err) {
        if (!(err instanceof PrometheusQueryError)) throw err;
        return { value: null, query, error: err.message };
      }
    },
  };
}
