// Canary activities on the serving role: weights through the deploy target, and one analysis
// measurement through Prometheus. A failed measurement is an answer (it counts against the
// analysis' error limit), never a retried activity.
import { log } from '@temporalio/activity';
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

export function createRolloutActivities(deps: { targets: Record<string, DeployTarget>; prometheusUrl?: string }) {
  return {
    /** Gives the canary its share of the stable endpoint in one router update (0 = abort). */
    async setCanaryWeight({ target: name = 'local', ...request }: SetCanaryWeightInput): Promise<CanaryResult> {
      const target = deps.targets[name];
      if (!target) throw unknownImplementation('DeployTarget', name, deps.targets);
      const result = await asActivityFailure(() => target.setCanary(request));
      log.info('canary weight set', { deployment: request.deploymentName, version: request.version, weights: result.weights });
      return result;
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
