// Keeps Traefik (one deployment's stable endpoint) running with the routes the deployment state
// asks for: started once, detached, found again by its pid file and /ping after a worker restart,
// and started again with the same routes if it died, so the live weights never change by accident.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findTool } from '../../system/tools.js';
import { ephemeralPortRange, freePort, isPortFree } from '../../system/ports.js';
import { isOurs, spawnDetached, stopGroup, waitReady } from './processes.js';
import { writeJsonAtomic } from '../../system/files.js';
import { readRouter, removeSafe, routerPath, type RouterRecord } from './state.js';
import { DeployError } from './target.js';
import { childEnv } from '../../system/child-env.js';
import { routesApplied, writeRoutes, writeStaticConfig, type Route } from './traefik.js';

const routerTag = (dir: string) => `traefik:${dir}`;
/** How long a written route change may take to show in Traefik's API before the call fails (and is retried). */
const APPLY_TIMEOUT_MS = 15_000;

/** How long a live Traefik may take to answer /ping before it is taken for hung and started again. */
const PING_GRACE_MS = 10_000;

/**
 * True when the recorded Traefik is alive, ours, serves `port`, and answers /ping. A live one gets
 * PING_GRACE_MS to answer: on a loaded host one slow ping must not restart the stable endpoint
 * (dropping its connections, and racing other sockets for its port).
 */
export async function routerHealthy(dir: string, record: RouterRecord | null, port: number): Promise<boolean> {
  if (!record || record.port !== port || !isOurs(record.pid, routerTag(dir))) return false;
  // waitReady probes at once, then backs off: a healthy Traefik costs one request.
  return (await waitReady(`http://127.0.0.1:${record.adminPort}/ping`, record.pid, PING_GRACE_MS)) === 'ready';
}

/**
 * Ensures Traefik serves `routes` on `port`: writes the routes file, starts Traefik if it is not
 * running (or runs on another port), and returns once Traefik's API shows the routes applied.
 */
export async function ensureRouter(dir: string, port: number, routes: Route[]): Promise<RouterRecord> {
  writeRoutes(dir, routes);
  let record = readRouter(dir);
  if (!record || !(await routerHealthy(dir, record, port))) record = await startRouter(dir, port);
  const deadline = Date.now() + APPLY_TIMEOUT_MS;
  // Traefik applies a changed file within milliseconds: ask again soon, then less often.
  let gap = 2;
  while (!(await routesApplied(record.adminPort, routes))) {
    if (Date.now() > deadline) {
      throw new DeployError('RouterFailedToStart', `Traefik on port ${port} did not apply the new routes in ${APPLY_TIMEOUT_MS / 1000}s; see ${logFile(dir)}`, { port, logFile: logFile(dir) });
    }
    await sleep(gap);
    gap = Math.min(gap * 2, 20);
  }
  return record;
}

const logFile = (dir: string) => path.join(dir, 'logs', 'traefik.log');

async function startRouter(dir: string, port: number): Promise<RouterRecord> {
  await stopRouter(dir);
  // A Traefik that just died may hold its socket a moment longer (its other threads still exit).
  const portDeadline = Date.now() + 3_000;
  while (!(await isPortFree(port)) && Date.now() < portDeadline) await sleep(50);
  if (!(await isPortFree(port))) {
    const range = ephemeralPortRange();
    // A port the kernel also hands out on its own is taken, now and then, by any outgoing connection.
    const hint = range && port >= range.low && port <= range.high ? ` Ports ${range.low}-${range.high} are the kernel's ephemeral range, which any connection may take: choose one below ${range.low}.` : '';
    throw new DeployError('StablePortInUse', `port ${port} for the stable endpoint is already in use by another process. Free it, or set deploy.port to another port.${hint}`, { port });
  }
  const traefik = findTool('traefik');
  const adminPort = await freePort();
  // Loopback unless the worker's environment says otherwise (0.0.0.0 in a container whose port is published).
  const configFile = writeStaticConfig(dir, { host: process.env.SLIPWAY_ENDPOINT_HOST ?? '127.0.0.1', port, adminPort });
  const child = spawnDetached([traefik, `--configFile=${configFile}`], { cwd: dir, env: childEnv(), logFile: logFile(dir), tag: routerTag(dir) });
  if (child.pid === undefined) throw new DeployError('RouterFailedToStart', `could not spawn Traefik (${traefik})`, { port });
  const next: RouterRecord = { pid: child.pid, port, adminPort };
  // Recorded before it is ready, so that a crash now still leaves a pid the next attempt can stop.
  writeJsonAtomic(routerPath(dir), next);
  const outcome = await waitReady(`http://127.0.0.1:${adminPort}/ping`, child.pid, 30_000, { logFile: logFile(dir), child });
  if (outcome !== 'ready') {
    await stopRouter(dir);
    throw new DeployError('RouterFailedToStart', `Traefik for port ${port} ${outcome === 'exited' ? 'exited' : 'did not answer /ping in 30s'}; see ${logFile(dir)}`, { port, logFile: logFile(dir) });
  }
  return next;
}

/** Stops Traefik if it is ours and still running; forgets its pid file either way. */
export async function stopRouter(dir: string): Promise<void> {
  const record = readRouter(dir);
  // `router:<dir>`: the Node router of releases before Traefik, still holding the port after an upgrade.
  if (record && (isOurs(record.pid, routerTag(dir)) || isOurs(record.pid, `router:${dir}`))) await stopGroup(record.pid);
  removeSafe(routerPath(dir));
}
