// What the canary suites share: the real dev server and MLflow (global setup), a worker process,
// a Prometheus of their own scraping every second, Traefik as the stable endpoint (the worker's
// local deploy target), and the fake model server (a real HTTP server standing in for vLLM).
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import type { PipelineSpecInput } from '../../src/spec/schema.js';
import { startPrometheusServer, type RunningPrometheus } from '../../src/stack/prometheus-server.js';
import { freePort } from '../../src/system/ports.js';
import { packageRoot } from '../../src/system/tools.js';
import { statusQuery } from '../../src/workflows/messages.js';
import { FINAL_STAGES, type PipelineStatus } from '../../src/workflows/status.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { writeSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

/** The load loop's prompt; a broken canary fails exactly this one (evaluation and smoke prompts still pass). */
export const LOAD_PROMPT = 'production traffic';
const serve = [process.execPath, '--import', 'tsx', path.join(packageRoot, 'test', 'support', 'openai-server-main.ts'), '--port', '{port}', '--model', '{model}'];
/** 20 probe prompts, each answered right by the fake server's echo; a "wrong" canary gets the first six wrong. */
const PROBES = Array.from({ length: 20 }, (_, i) => `probe question ${i}`);
const WRONG = PROBES.slice(0, 6).flatMap((p) => ['--wrong-prompt', p]);

export interface CanaryFaults {
  /** 5xx on the load prompt. */
  failOnLoad?: boolean;
  /** 300 ms on the load prompt. */
  slowOnLoad?: boolean;
  /** Six of the twenty probes answered wrong. */
  wrongOnProbes?: boolean;
  /** Every probe answered after 20 s (a canary that hangs on the analysis' prompts). */
  hangOnProbes?: boolean;
}

/**
 * Registers beforeAll/afterAll for a canary suite whose pipeline is `name` (its MLflow model is
 * `<name>-model`, its own in the shared MLflow) and returns what its tests use.
 */
export function canaryHarness(name: string) {
  const address = inject('temporalAddress');
  const mlflowUrl = inject('mlflowUrl');
  const stateDir = mkdtempSync(path.join(os.tmpdir(), `slipway-${name}-`));
  const h = {
    address,
    stateDir,
    model: `${name}-model`,
    port: 0,
    client: undefined as unknown as Client,
    worker: undefined as WorkerProcess | undefined,
    prometheus: undefined as RunningPrometheus | undefined,
    connection: undefined as Connection | undefined,
    startWorker: () => startWorkerProcess(['--address', address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: mlflowUrl, SLIPWAY_PROMETHEUS_URL: h.prometheus!.url }),

    spec(over: Partial<PipelineSpecInput> & CanaryFaults = {}): string {
      const { failOnLoad, slowOnLoad, wrongOnProbes, hangOnProbes, ...rest } = over;
      const command = [
        ...serve,
        ...(failOnLoad ? ['--fail-prompt', LOAD_PROMPT] : []),
        ...(slowOnLoad ? ['--slow-prompt', LOAD_PROMPT, '--slow-ms', '300'] : []),
        ...(wrongOnProbes ? WRONG : []),
        ...(hangOnProbes ? [...PROBES.flatMap((p) => ['--slow-prompt', p]), '--slow-ms', '20000'] : []),
      ];
      const file = writeSpec({ name, deployPort: h.port, serve: { command, cwd: packageRoot }, monitor: { duration: '1s', interval: '1s' }, ...rest });
      writeFileSync(path.join(path.dirname(file), 'probes.jsonl'), PROBES.map((p) => JSON.stringify({ prompt: p, expected: p, scorer: 'contains' })).join('\n') + '\n');
      return file;
    },

    async start(file: string, label: string): Promise<string> {
      const started = await runCli(['run', file, '--release', label, '--json'], { TEMPORAL_ADDRESS: address });
      expect(started.code, started.stderr).toBe(0);
      return (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    },

    status: (id: string) => h.client.workflow.getHandle(id).query(statusQuery),

    /**
     * Waits until the release's status satisfies `check`; fails at once, with the release's stage and
     * error, if it ends first (instead of waiting out the bound on a release that already failed).
     */
    async until(id: string, check: (s: PipelineStatus) => boolean, what: string, timeoutMs: number, everyMs = 200): Promise<void> {
      await waitFor(
        async () => {
          const s = await h.status(id);
          if (check(s)) return true;
          if (FINAL_STAGES.has(s.stage)) throw new Error(`release ${id} ended ${s.stage} before ${what}: ${s.error ?? s.rollout?.abort?.reason ?? '(no error recorded)'}`);
          return false;
        },
        what,
        timeoutMs,
        everyMs,
      );
    },

    /** The version MLflow's `champion` alias points at, read from the registry's REST API (null: no alias). */
    async champion(): Promise<string | null> {
      const res = await fetch(`${mlflowUrl}/api/2.0/mlflow/registered-models/alias?${new URLSearchParams({ name: h.model, alias: 'champion' })}`);
      const body = (await res.json()) as { model_version?: { version: string }; error_code?: string };
      if (res.status === 404 || body.error_code === 'RESOURCE_DOES_NOT_EXIST') return null;
      expect(res.status, JSON.stringify(body)).toBe(200);
      return body.model_version!.version;
    },

    /** Sends requests to the stable endpoint until stopped (bounded); counts answers by the version that served them. */
    loadLoop() {
      const byVersion = new Map<string, number>();
      const byStatus = new Map<number, number>();
      let stop = false;
      const done = (async () => {
        for (let i = 0; i < 20_000 && !stop; i++) {
          try {
            const res = await fetch(`http://127.0.0.1:${h.port}/v1/chat/completions`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: LOAD_PROMPT }] }),
            });
            await res.arrayBuffer();
            const v = res.headers.get('x-slipway-version') ?? 'none';
            byVersion.set(v, (byVersion.get(v) ?? 0) + 1);
            byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
          } catch {
            byStatus.set(0, (byStatus.get(0) ?? 0) + 1);
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      return {
        byVersion,
        byStatus,
        reset: () => (byVersion.clear(), byStatus.clear()),
        stop: async () => {
          stop = true;
          await done;
        },
      };
    },
  };

  beforeAll(async () => {
    h.connection = await Connection.connect({ address });
    h.client = new Client({ connection: h.connection });
    h.port = await endpointPort();
    h.prometheus = await startPrometheusServer({
      port: await freePort(),
      stateDir: path.join(stateDir, 'prometheus-server'),
      targetsDir: path.join(stateDir, 'prometheus', 'targets'),
      logFile: path.join(stateDir, 'prometheus.log'),
      scrapeInterval: '1s',
    });
    h.worker = await h.startWorker();
  }, 120_000);

  afterAll(async () => {
    for await (const wf of h.client.workflow.list({ query: "ExecutionStatus = 'Running'" })) {
      if (wf.workflowId.startsWith(`release:${h.model}:`)) await h.client.workflow.getHandle(wf.workflowId).terminate('test cleanup');
    }
    await h.worker?.kill();
    await stopLocalDeployments(stateDir);
    await h.prometheus?.stop();
    await h.connection?.close();
  });

  return h;
}
