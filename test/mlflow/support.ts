import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApplicationFailure, type ActivityFunction } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { findTool } from '../../src/system/tools.js';

/** What activities logged in this test file (kept off the console; tests may assert on it). */
export const activityLogs: LogEntry[] = [];

/**
 * Runs an activity in the SDK's MockActivityEnvironment: a test double of the activity context
 * (info, logger, heartbeats, cancellation, all in-process; no worker, no server). The MLflow it
 * talks to is real.
 */
export function runActivity<P, R>(fn: ActivityFunction<[P], R>, input: P): Promise<R> {
  const logger = new DefaultLogger('DEBUG', (entry) => activityLogs.push(entry));
  return new MockActivityEnvironment(undefined, { logger }).run(fn, input);
}

/** Awaits a promise that must reject with an ApplicationFailure, and returns it. */
export async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw new Error(`expected an ApplicationFailure, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected the call to fail, it succeeded');
}

/**
 * Runs a snippet with MLflow's official Python client (`client` is `mlflow.MlflowClient()`,
 * `args` is sys.argv[1:]) against `trackingUri`; the snippet assigns `out`, printed as JSON.
 */
export async function pythonMlflow(trackingUri: string, snippet: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<unknown> {
  const script = [
    'import json, sys',
    'from mlflow import MlflowClient',
    'client = MlflowClient()',
    'args = sys.argv[1:]',
    snippet,
    'print("@@JSON@@" + json.dumps(out, default=str))',
  ].join('\n');
  const { stdout } = await promisify(execFile)(findTool('python'), ['-c', script, ...args], {
    env: { ...process.env, ...env, MLFLOW_TRACKING_URI: trackingUri },
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('@@JSON@@'));
  if (!line) throw new Error(`the Python client printed no result:\n${stdout}`);
  return JSON.parse(line.slice('@@JSON@@'.length));
}

/** A name no other test run has used on this server. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Writes `content` to a file in a fresh temp dir, runs `fn` with its path, then removes the dir. */
export async function withTempFile<T>(name: string, content: string | Buffer, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-mlflow-'));
  try {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    return await fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
