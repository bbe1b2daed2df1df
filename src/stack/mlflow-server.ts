import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { assertPortFree, httpOk, ManagedProcess } from './process.js';
import { findTool } from '../system/tools.js';

export interface MlflowServerOptions {
  port: number;
  /** Directory for the SQLite backend store and the artifacts. */
  stateDir: string;
  logFile: string;
  /** `basic-auth` turns on MLflow's built-in username/password auth. */
  appName?: 'basic-auth';
  env?: NodeJS.ProcessEnv;
  startupTimeoutMs?: number;
}

export interface RunningMlflow {
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts a real `mlflow server` (SQLite + proxied local artifacts) and waits for /health. */
export async function startMlflowServer(opts: MlflowServerOptions): Promise<RunningMlflow> {
  const mlflow = findTool('mlflow');
  await assertPortFree(opts.port, 'MLflow server', '--mlflow-port');
  const stateDir = path.resolve(opts.stateDir);
  mkdirSync(path.join(stateDir, 'artifacts'), { recursive: true });
  const args = [
    'server',
    '--host', '127.0.0.1',
    '--port', String(opts.port),
    '--workers', '1',
    '--backend-store-uri', `sqlite:///${path.join(stateDir, 'mlflow.db')}`,
    '--artifacts-destination', path.join(stateDir, 'artifacts'),
    '--serve-artifacts',
  ];
  if (opts.appName) args.push('--app-name', opts.appName);
  const proc = ManagedProcess.start('mlflow server', mlflow, args, {
    logFile: opts.logFile,
    cwd: stateDir,
    env: { ...process.env, ...opts.env },
  });
  const url = `http://127.0.0.1:${opts.port}`;
  await proc.waitUntil(() => httpOk(`${url}/health`), opts.startupTimeoutMs ?? 120_000);
  return { url, process: proc, stop: () => proc.stop() };
}
