// Traefik as one deployment's stable endpoint. Its static config (entry points, metrics) is written
// once per start; its routes live in a file-provider directory that Traefik watches, rewritten
// atomically (temp file + rename) so a reload never sees half a file and never drops a connection.
import path from 'node:path';
import { writeJsonAtomic } from '../../system/files.js';

/** One version's upstream and its share of the stable endpoint's traffic (0..100). */
export interface Route {
  version: string;
  url: string;
  weight: number;
}

/** Traefik's name for a version's service; Prometheus sees it as `service="<name>@file"`. */
export function serviceName(version: string): string {
  return `version-${version.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** The label value of a version's series in Traefik's per-service metrics. */
export const serviceLabel = (version: string) => `${serviceName(version)}@file`;

export const STABLE_SERVICE = 'stable';
/** Latency buckets (seconds) of Traefik's request-duration histograms: fine enough for a p99 on an LLM. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const dynamicDir = (dir: string) => path.join(dir, 'traefik', 'dynamic');
export const staticPath = (dir: string) => path.join(dir, 'traefik', 'traefik.yml');
// JSON is YAML; the file provider reads only .yml/.yaml/.toml names (and skips our .tmp files).
const routesPath = (dir: string) => path.join(dynamicDir(dir), 'routes.yml');

/**
 * The static config: the stable port on `host`, and an admin entry point on loopback that serves
 * /ping, the API (to see which routes are applied) and /metrics for Prometheus.
 */
export function writeStaticConfig(dir: string, opts: { host: string; port: number; adminPort: number }): string {
  const config = {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    entryPoints: {
      // A stop waits at most 2 s for requests in flight (Traefik's default is 10 s).
      web: { address: `${opts.host}:${opts.port}`, transport: { lifeCycle: { graceTimeOut: '2s' } } },
      traefik: { address: `127.0.0.1:${opts.adminPort}` },
    },
    // No throttle: a weight change (an abort above all) takes effect as soon as the file is renamed.
    providers: { providersThrottleDuration: '0s', file: { directory: dynamicDir(dir), watch: true } },
    api: { insecure: true, dashboard: false },
    ping: {},
    metrics: { prometheus: { addEntryPointsLabels: true, addRoutersLabels: true, addServicesLabels: true, buckets: LATENCY_BUCKETS } },
    log: { level: 'WARN', noColor: true },
  };
  // Written before start only, so a plain write is enough.
  writeJsonAtomic(staticPath(dir), config);
  return staticPath(dir);
}

/** The dynamic config for these routes: one service per version, and a weighted `stable` over them. */
export function dynamicConfig(routes: Route[]): unknown {
  const services: Record<string, unknown> = {};
  for (const r of routes) services[serviceName(r.version)] = { loadBalancer: { servers: [{ url: r.url }], passHostHeader: true } };
  const weighted = routes.filter((r) => r.weight > 0).map((r) => ({ name: serviceName(r.version), weight: r.weight }));
  if (weighted.length === 0) return { http: { services: Object.keys(services).length ? services : undefined } };
  services[STABLE_SERVICE] = { weighted: { services: weighted } };
  return { http: { routers: { stable: { rule: 'PathPrefix(`/`)', entryPoints: ['web'], service: STABLE_SERVICE } }, services } };
}

/** Rewrites the routes file atomically; Traefik's file provider reloads it. */
export function writeRoutes(dir: string, routes: Route[]): void {
  writeJsonAtomic(routesPath(dir), dynamicConfig(routes));
}

interface ApiService {
  weighted?: { services: Array<{ name: string; weight: number }> };
  loadBalancer?: { servers: Array<{ url: string }> };
}

/** True when Traefik's running config matches `routes`: weights of `stable` and each version's upstream. */
export async function routesApplied(adminPort: number, routes: Route[]): Promise<boolean> {
  const get = async (name: string): Promise<ApiService | null> => {
    const res = await fetch(`http://127.0.0.1:${adminPort}/api/http/services/${name}@file`, { signal: AbortSignal.timeout(2_000) });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) throw new Error(`Traefik API answered ${res.status}`);
    return (await res.json()) as ApiService;
  };
  try {
    const stable = await get(STABLE_SERVICE);
    const want = routes.filter((r) => r.weight > 0).map((r) => `${serviceName(r.version)}=${r.weight}`);
    const have = (stable?.weighted?.services ?? []).map((s) => `${s.name.replace(/@file$/, '')}=${s.weight}`);
    if (want.sort().join(',') !== have.sort().join(',')) return false;
    for (const r of routes) {
      const service = await get(serviceName(r.version));
      if (service?.loadBalancer?.servers[0]?.url !== r.url) return false;
    }
    return true;
  } catch {
    return false;
  }
}
