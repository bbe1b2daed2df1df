// Keeps the router (the stable endpoint) of one deployment running: started once, detached, found
// again by its pid file and its info path after a worker restart.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPortFree } from '../../system/ports.js';
import { isOurs, spawnDetached, stopGroup, waitReady } from './processes.js';
import { ROUTER_INFO_PATH } from './router.js';
import { readRouter, removeSafe, routerPath, statePath, writeJsonAtomic, type RouterRecord } from './state.js';
import { DeployError } from './target.js';
import { childEnv } from '../../system/child-env.js';

const routerTag = (dir: string) => `router:${dir}`;

/** The router's argv prefix: compiled JS runs as is; from .ts source (tests, tsx) it needs the tsx loader. */
function routerArgv(): { argv: string[]; cwd: string } {
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSource ? './router.ts' : './router.js', import.meta.url));
  // `--import tsx` resolves from the cwd, so run from the router's own folder inside the package.
  return { argv: fromSource ? [process.execPath, '--import', 'tsx', file] : [process.execPath, file], cwd: path.dirname(file) };
}

async function routerInfo(port: number): Promise<{ pid: number; state: string } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${ROUTER_INFO_PATH}`, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? ((await res.json()) as { pid: number; state: string }) : null;
  } catch {
    return null;
  }
}

/** True when the recorded router is alive, ours, and answering on `port` for this state file. */
export async function routerHealthy(dir: string, record: RouterRecord | null, port: number): Promise<boolean> {
  if (!record || record.port !== port || !isOurs(record.pid, routerTag(dir))) return false;
  const info = await routerInfo(port);
  return info?.pid === record.pid && info.state === statePath(dir);
}

/** Ensures this deployment's router listens on `port`, replacing one on another port or a dead one. */
export async function ensureRouter(dir: string, port: number): Promise<RouterRecord> {
  const record = readRouter(dir);
  if (await routerHealthy(dir, record, port)) return record as RouterRecord;
  await stopRouter(dir);
  if (!(await isPortFree(port))) {
    throw new DeployError('StablePortInUse', `port ${port} for the stable endpoint is already in use by another process. Free it, or set deploy.port to another port.`, { port });
  }
  const { argv, cwd } = routerArgv();
  const logFile = path.join(dir, 'logs', 'router.log');
  const child = spawnDetached([...argv, '--state', statePath(dir), '--port', String(port)], {
    cwd,
    env: childEnv(),
    logFile,
    tag: routerTag(dir),
  });
  if (child.pid === undefined) throw new DeployError('RouterFailedToStart', `could not spawn the router (${argv[0]})`, { port });
  const next = { pid: child.pid, port };
  // Recorded before it is ready, so that a crash now still leaves a pid the next attempt can stop.
  writeJsonAtomic(routerPath(dir), next);
  const outcome = await waitReady(`http://127.0.0.1:${port}${ROUTER_INFO_PATH}`, child.pid, 30_000);
  if (outcome !== 'ready') {
    await stopRouter(dir);
    throw new DeployError('RouterFailedToStart', `the router on port ${port} ${outcome === 'exited' ? 'exited' : 'did not answer in 30s'}`, { port, logFile });
  }
  return next;
}

/** Stops the router if it is ours and still running; forgets its pid file either way. */
export async function stopRouter(dir: string): Promise<void> {
  const record = readRouter(dir);
  if (record && isOurs(record.pid, routerTag(dir))) await stopGroup(record.pid);
  removeSafe(routerPath(dir));
}
