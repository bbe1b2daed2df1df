// Prometheus for the embedded stack and the tests: scrapes Traefik and the model servers that the
// local deploy target lists in its file_sd folder, so a server started later is picked up at once.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertPortFree, httpOk, ManagedProcess } from './process.js';
import { findTool } from '../system/tools.js';

export interface PrometheusServerOptions {
  port: number;
  /** Holds the TSDB and the generated prometheus.yml. */
  stateDir: string;
  /** The deploy target's file_sd folder (`<worker stateDir>/prometheus/targets`). */
  targetsDir: string;
  logFile: string;
  /** How often each target is scraped: 15s for people, 1s for tests. */
  scrapeInterval?: string;
  startupTimeoutMs?: number;
}

export interface RunningPrometheus {
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** The scrape config: every target the deploy target lists, with its labels (deployment, role, version). */
export function prometheusConfig(targetsDir: string, scrapeInterval: string): string {
  return JSON.stringify(
    {
      global: { scrape_interval: scrapeInterval, evaluation_interval: scrapeInterval },
      scrape_configs: [
        {
          job_name: 'slipway',
          scrape_timeout: scrapeInterval,
          file_sd_configs: [{ files: [path.join(targetsDir, '*.json')], refresh_interval: '5s' }],
        },
      ],
    },
    null,
    2,
  );
}

/** Starts the real `prometheus` on 127.0.0.1:`port` and waits for /-/ready. */
export async function startPrometheusServer(opts: PrometheusServerOptions): Promise<RunningPrometheus> {
  const prometheus = findTool('prometheus');
  await assertPortFree(opts.port, 'Prometheus', '--prometheus-port');
  const stateDir = path.resolve(opts.stateDir);
  mkdirSync(path.join(stateDir, 'data'), { recursive: true });
  mkdirSync(opts.targetsDir, { recursive: true });
  const configFile = path.join(stateDir, 'prometheus.yml'); // JSON is YAML
  writeFileSync(configFile, prometheusConfig(path.resolve(opts.targetsDir), opts.scrapeInterval ?? '15s'));
  const proc = ManagedProcess.start(
    'prometheus',
    prometheus,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(stateDir, 'data')}`, `--web.listen-address=127.0.0.1:${opts.port}`, '--storage.tsdb.retention.time=7d'],
    { logFile: opts.logFile, cwd: stateDir },
  );
  const url = `http://127.0.0.1:${opts.port}`;
  await proc.waitUntil(() => httpOk(`${url}/-/ready`), opts.startupTimeoutMs ?? 60_000);
  return { url, process: proc, stop: () => proc.stop() };
}
