// A single-node Ray cluster for `slipway dev --ray` and the tests: `ray start --head --block` on free
// ports with its own temp dir. `--block` keeps the starting process alive as the cluster's parent, so
// stopping it (its process group) stops every Ray process it started, and nothing else: `ray stop`
// would end every Ray cluster of this user on the machine.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTool } from '../system/tools.js';
import { freePorts } from '../system/ports.js';
import { assertPortFree, ManagedProcess, stopProcessGroup } from './process.js';

export interface RayHeadOptions {
  /** The dashboard (Jobs API) port; a free one when left out. */
  dashboardPort?: number;
  logFile: string;
  cpus?: number;
  gpus?: number;
  /** Ray's session folder; short, because Ray puts unix sockets in it (default: a fresh one in the system temp dir). */
  tempDir?: string;
  startupTimeoutMs?: number;
  /** Let the head go on after this process exits (test files sharing one head); stop it with stopDetachedRayHead. */
  outlive?: boolean;
}

export interface RunningRayHead {
  /** The address for RAY_ADDRESS: the dashboard's http://host:port, where the Jobs API is. */
  address: string;
  /** Ray's session folder: every process of this head names it on its command line. */
  tempDir: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts a Ray head and waits until its Jobs API answers and its node is alive. */
export async function startRayHead(opts: RayHeadOptions): Promise<RunningRayHead> {
  const ray = findTool('ray');
  // Every port Ray would otherwise take at a fixed default, so two heads on one machine do not collide;
  // drawn together, so that no two of its components are given the same one.
  const portFlags = ['--port', '--ray-client-server-port', '--dashboard-agent-listen-port', '--dashboard-agent-grpc-port',
    '--runtime-env-agent-port', '--metrics-export-port', '--node-manager-port', '--object-manager-port'];
  const [drawnDashboard, ...drawn] = await freePorts(portFlags.length + 1);
  const dashboardPort = opts.dashboardPort ?? drawnDashboard!;
  await assertPortFree(dashboardPort, 'Ray dashboard', '--ray-dashboard-port');
  const ownTemp = !opts.tempDir;
  const tempDir = opts.tempDir ?? mkdtempSync(path.join(os.tmpdir(), 'slipway-ray-'));
  const args = [
    'start', '--head', '--block', '--disable-usage-stats',
    '--dashboard-host', '127.0.0.1', '--dashboard-port', String(dashboardPort), '--include-dashboard', 'true',
    '--num-cpus', String(opts.cpus ?? 2), '--num-gpus', String(opts.gpus ?? 0),
    '--temp-dir', tempDir,
    ...portFlags.flatMap((flag, i) => [flag, String(drawn[i])]),
  ];
  const proc = ManagedProcess.start('ray head', ray, args, { logFile: opts.logFile, env: { ...process.env, RAY_USAGE_STATS_ENABLED: '0' }, outlive: opts.outlive ?? false });
  const address = `http://127.0.0.1:${dashboardPort}`;
  const stop = async () => {
    await proc.stop(STOP_GRACE_MS);
    if (ownTemp) rmSync(tempDir, { recursive: true, force: true });
  };
  try {
    await proc.waitUntil(() => nodeAlive(address), opts.startupTimeoutMs ?? 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, tempDir, process: proc, stop };
}

/**
 * Ray's own orderly shutdown on SIGTERM takes 30 s and more on a busy machine, and gains nothing here:
 * every process of the head is in its process group (SIGKILLed after this grace), its jobs die with it
 * either way, and its session folder is thrown away.
 */
const STOP_GRACE_MS = 2_000;

/** Stops a head started with `outlive` from another process: its process group, then its session folder. */
export async function stopDetachedRayHead(head: { pid: number; tempDir: string }): Promise<void> {
  await stopProcessGroup(head.pid, STOP_GRACE_MS);
  rmSync(head.tempDir, { recursive: true, force: true });
}

export async function nodeAlive(address: string): Promise<boolean> {
  const res = await fetch(`${address}/api/v0/nodes`, { signal: AbortSignal.timeout(3000) });
  if (!res.ok) return false;
  const body = (await res.json()) as { data?: { result?: { result?: Array<{ state?: string }> } } };
  const jobs = await fetch(`${address}/api/jobs/`, { signal: AbortSignal.timeout(3000) });
  await jobs.body?.cancel();
  return jobs.ok && (body.data?.result?.result ?? []).some((n) => n.state === 'ALIVE');
}
