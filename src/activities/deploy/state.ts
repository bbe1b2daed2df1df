// On-disk state of one local deployment: its versions, which one is live, the canary's weight.
// Writes are atomic (write a temp file, then rename), so a crash never leaves half a file.
import { readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../../system/files.js';
import { DeployError, type ServeConfig } from './target.js';

export interface VersionRecord {
  port: number;
  /** Null once stopped but kept (the previous version), so a rollback can start it again. */
  pid: number | null;
  artifactPath: string;
  logFile: string;
  serve: ServeConfig;
  env: Record<string, string>;
  /** The release (workflow id) that started it as a candidate; the reconciler stops it once that release is gone. */
  owner?: string;
}

/**
 * A switch of traffic that was decided but maybe not finished: the state around it is already the
 * new one. Written before the router changes, cleared after the replaced versions are stopped, so
 * a call that finds it (after a worker crash) finishes the switch instead of leaving it half done.
 */
export interface PendingSwitch {
  op: 'promote' | 'rollback';
  /** The stable endpoint's port. */
  port: number;
  /** Versions to stop once traffic has moved away from them. */
  stop: string[];
}

export interface DeploymentState {
  live: string | null;
  previous: string | null;
  /** The last rollback's outcome, so a retried rollback activity returns it instead of failing. */
  lastRollback: { restoredVersion: string; rolledBackVersion: string } | null;
  /** A version taking `weight`% of the stable endpoint's traffic next to the live one; absent in older files. */
  canary?: { version: string; weight: number } | null;
  versions: Record<string, VersionRecord>;
  /** A promote or rollback under way (see PendingSwitch); absent or null when none is. */
  switching?: PendingSwitch | null;
}

/** The deployment's Traefik: its pid, the stable port, and the admin port (/ping, API, /metrics). */
export interface RouterRecord {
  pid: number;
  port: number;
  adminPort: number;
}

export function deploymentDir(stateDir: string, deploymentName: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(deploymentName)) {
    throw new DeployError('InvalidDeploymentName', `deployment name ${JSON.stringify(deploymentName)}: expected letters, digits, ".", "_" or "-" (max 128)`, { deploymentName });
  }
  return path.join(path.resolve(stateDir), 'deployments', deploymentName);
}

export const statePath = (dir: string) => path.join(dir, 'state.json');
export const routerPath = (dir: string) => path.join(dir, 'router.json');
/** Written by the test pause hook (LocalDeployTargetOptions.testPauseAt) when a call stops at its point. */
export const pausedAtPath = (dir: string) => path.join(dir, 'test-paused-at');
/** Versions are free text (MLflow numbers, tags); keep file names tame. */
export const logPath = (dir: string, version: string) => path.join(dir, 'logs', `${version.replace(/[^A-Za-z0-9._-]/g, '_')}.log`);

const EMPTY: DeploymentState = { live: null, previous: null, lastRollback: null, versions: {} };

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}


export const readState = (dir: string): DeploymentState => readJson<DeploymentState>(statePath(dir)) ?? structuredClone(EMPTY);
export const writeState = (dir: string, state: DeploymentState) => writeJsonAtomic(statePath(dir), state);
export const readRouter = (dir: string): RouterRecord | null => readJson<RouterRecord>(routerPath(dir));

/** The deployment's lock (see file-lock.ts): promote, rollback, stop and ensure take turns. */
export { withLock } from '../file-lock.js';

export function removeSafe(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}
