import { Connection } from '@temporalio/client';
import path from 'node:path';
import { assertPortFree, ManagedProcess } from './process.js';
import { findTool } from '../system/tools.js';

export const STAGE_SEARCH_ATTRIBUTE = 'SlipwayStage';

/**
 * The largest payload the embedded server accepts (a signal's input, a start input). Slipway's own
 * messages are a few KiB (a spec, a decision, the status carried across continue-as-new); the
 * server's default of 2 MiB let 28 invalid 1.9 MB signals push a waiting release past the history
 * limit, which terminates it. Refused here, a flood never reaches the release's history.
 */
export const MAX_PAYLOAD_BYTES = 512 * 1024;

export interface TemporalDevServerOptions {
  port: number;
  /** Web UI port; omit for a headless server (tests). */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; omit for an in-memory server. */
  dbFile?: string;
  logFile: string;
  namespace?: string;
  startupTimeoutMs?: number;
}

export interface RunningTemporal {
  address: string;
  namespace: string;
  uiUrl?: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts the real `temporal server start-dev` and waits until its frontend answers a health
 * check (the SDK's own spawn gives up after 5 s, too short for a cold start on a small machine).
 */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<RunningTemporal> {
  const temporal = findTool('temporal');
  const namespace = opts.namespace ?? 'default';
  await assertPortFree(opts.port, 'Temporal frontend', '--temporal-port');
  if (opts.uiPort !== undefined) await assertPortFree(opts.uiPort, 'Temporal Web UI', '--ui-port');
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--namespace', namespace,
    '--search-attribute', `${STAGE_SEARCH_ATTRIBUTE}=Keyword`,
    '--log-level', 'warn',
    '--dynamic-config-value', `limit.blobSize.error=${MAX_PAYLOAD_BYTES}`,
    '--dynamic-config-value', `limit.blobSize.warn=${MAX_PAYLOAD_BYTES / 4}`,
  ];
  if (opts.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  if (opts.dbFile) args.push('--db-filename', path.resolve(opts.dbFile));
  const proc = ManagedProcess.start('temporal server', temporal, args, { logFile: opts.logFile });
  const address = `127.0.0.1:${opts.port}`;
  await proc.waitUntil(async () => {
    const connection = await Connection.connect({ address, connectTimeout: 1000 });
    try {
      const res = await connection.workflowService.describeNamespace({ namespace });
      return res.namespaceInfo?.name === namespace;
    } finally {
      await connection.close();
    }
  }, opts.startupTimeoutMs ?? 60_000);
  return {
    address,
    namespace,
    uiUrl: opts.uiPort === undefined ? undefined : `http://127.0.0.1:${opts.uiPort}`,
    process: proc,
    stop: () => proc.stop(),
  };
}
