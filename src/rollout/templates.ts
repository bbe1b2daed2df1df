// Built-in analysis templates: PromQL that compares the canary with the stable version, from
// Traefik's per-service metrics (any model server) or from vLLM's own metrics (scraped through the
// deploy target's file_sd labels). `{{canary}}`/`{{stable}}` are Traefik service labels,
// `{{canary_version}}`/`{{stable_version}}` and `{{deployment}}` the model servers' labels, and
// `{{window}}` the analysis interval.

export interface TemplateDefaults {
  query: string;
  success_condition: string;
  /** What the result is, for people reading the status. */
  meaning: string;
}

// A service without requests in the window answers nothing rather than 0/0 = NaN: the stable side then
// counts as 0 (during the bake it takes no traffic), and a canary without traffic stays inconclusive.
const traefikErrorRate = (svc: string) =>
  `((sum(rate(traefik_service_requests_total{service="${svc}",code=~"5.."}[{{window}}])) or vector(0)) / (sum(rate(traefik_service_requests_total{service="${svc}"}[{{window}}])) > 0))`;
const traefikP99 = (svc: string) => `histogram_quantile(0.99, sum by (le) (rate(traefik_service_request_duration_seconds_bucket{service="${svc}"}[{{window}}])))`;
const vllmP99 = (metric: string, version: string) =>
  `histogram_quantile(0.99, sum by (le) (rate(${metric}_bucket{slipway_deployment="{{deployment}}",slipway_version="${version}"}[{{window}}])))`;

export const TEMPLATES = {
  /** Canary 5xx share minus stable's; no canary traffic → no result (inconclusive). */
  'error-rate': {
    query: `${traefikErrorRate('{{canary}}')} - (${traefikErrorRate('{{stable}}')} or vector(0))`,
    success_condition: 'result <= 0.01',
    meaning: "canary's 5xx rate minus stable's",
  },
  /** Canary p99 latency over stable's, from Traefik's request-duration histograms. */
  'latency-p99': {
    query: `${traefikP99('{{canary}}')} / ${traefikP99('{{stable}}')}`,
    success_condition: 'result <= 1.5',
    meaning: "canary's p99 latency / stable's",
  },
  /** vLLM preset: end-to-end request latency p99, canary over stable. */
  'vllm-latency-p99': {
    query: `${vllmP99('vllm:e2e_request_latency_seconds', '{{canary_version}}')} / ${vllmP99('vllm:e2e_request_latency_seconds', '{{stable_version}}')}`,
    success_condition: 'result <= 1.5',
    meaning: "canary's vLLM e2e latency p99 / stable's",
  },
  /** vLLM preset: time to first token p99, canary over stable. */
  'vllm-ttft-p99': {
    query: `${vllmP99('vllm:time_to_first_token_seconds', '{{canary_version}}')} / ${vllmP99('vllm:time_to_first_token_seconds', '{{stable_version}}')}`,
    success_condition: 'result <= 1.5',
    meaning: "canary's vLLM time to first token p99 / stable's",
  },
  /** vLLM preset: requests waiting in the canary's queue (saturation). */
  'vllm-queue': {
    query: `sum(vllm:num_requests_waiting{slipway_deployment="{{deployment}}",slipway_version="{{canary_version}}"})`,
    success_condition: 'result <= 10',
    meaning: 'requests waiting in the canary vLLM queue',
  },
} satisfies Record<string, TemplateDefaults>;

export type TemplateName = keyof typeof TEMPLATES;
export const TEMPLATE_NAMES = Object.keys(TEMPLATES) as TemplateName[];

export interface QueryVars {
  canary: string;
  stable: string;
  canary_version: string;
  stable_version: string;
  deployment: string;
  window: string;
}

/** Fills `{{name}}` placeholders; an unknown one is left for Prometheus to refuse (a counted error). */
export function renderQuery(query: string, vars: QueryVars): string {
  return query.replace(/\{\{\s*(\w+)\s*\}\}/g, (all, name: string) => (name in vars ? vars[name as keyof QueryVars] : all));
}
