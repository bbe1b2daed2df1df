// The local deploy target: each version is a model-server process on its own port, and the stable
// endpoint is Traefik, weighting the live version and a canary. Everything lives under
// <stateDir>/deployments/<name>/ so a restarted worker picks up where the last one stopped.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { tail } from '../../system/files.js';
import { freePort } from '../../system/ports.js';
import { isOurs, probe, spawnDetached, stopGroup, waitReady } from './processes.js';
import { ensureRouter, routerHealthy, stopRouter } from './stable-endpoint.js';
import { writeJsonAtomic } from '../../system/files.js';
import { deploymentDir, logPath, pausedAtPath, readRouter, readState, removeSafe, statePath, withLock, writeState, type DeploymentState, type PendingSwitch, type VersionRecord } from './state.js';
import type { CandidateRequest, CanaryRequest, CanaryResult, DeploymentStatus, DeployTarget, PromoteRequest, PromoteResult, RollbackRequest, RollbackResult } from './target.js';
import { serviceLabel, type Route } from './traefik.js';
import { DeployError } from './target.js';
import { expandCommand } from '../command.js';
import { childEnv } from '../../system/child-env.js';

export interface LocalCandidate {
  endpoint: string;
  port: number;
  pid: number;
}

const url = (port: number) => `http://127.0.0.1:${port}`;

/** How a server says its port is taken: Node's EADDRINUSE, Python's `[Errno 98] ... address already in use` (uvicorn, vLLM). */
const PORT_TAKEN = /EADDRINUSE|address already in use/i;
const PORT_TAKEN_RETRIES = 3;

/** A model server this process spawned: its exit is an event, not something to poll for. */
type SpawnedServer = ChildProcess & { pid: number };

/**
 * A free port that no version of the deployment has on record. A server spawned a moment ago may
 * not have bound its port yet (its health is awaited outside the lock), so the kernel can offer
 * that port again; the state, written before the lock is released, remembers it.
 */
async function unusedPort(state: DeploymentState): Promise<number> {
  const taken = new Set(Object.values(state.versions).map((r) => r.port));
  for (;;) {
    const port = await freePort();
    if (!taken.has(port)) return port;
  }
}

/** Each version's share of the stable endpoint (only versions that get traffic). */
export function weightsOf(state: DeploymentState): Record<string, number> {
  if (!state.live) return {};
  const canary = state.canary && state.canary.version !== state.live && state.canary.weight > 0 ? state.canary : null;
  return canary ? { [state.live]: 100 - canary.weight, [canary.version]: canary.weight } : { [state.live]: 100 };
}

function routesOf(state: DeploymentState): Route[] {
  return Object.entries(weightsOf(state)).flatMap(([version, weight]) => {
    const record = state.versions[version];
    return record?.pid ? [{ version, url: url(record.port), weight }] : [];
  });
}

export interface LocalDeployTargetOptions {
  stateDir: string;
  /** Where Prometheus' file_sd finds the servers to scrape (default `<stateDir>/prometheus/targets`). */
  prometheusTargetsDir?: string;
  /**
   * TEST HOOK, inert unless set (the worker reads SLIPWAY_TEST_PAUSE_AT): a promote or rollback that
   * reaches this named point (`promote:after-intent`, `rollback:after-intent`) writes the point's
   * name to `<deployment>/test-paused-at` and waits until the test deletes that file, so a test can
   * kill the worker there, or break something else (MLflow) before letting it go on.
   */
  testPauseAt?: string;
}

/** What one reconcile pass over a deployment did. */
export interface DeploymentRepair {
  deploymentName: string;
  /** A promote or rollback that a crashed call left half done, now finished. */
  finishedSwitch: boolean;
  /** Traefik was down while the deployment has a live version, and runs again with the same routes. */
  routerRestarted: boolean;
  /** Candidates whose owning release no longer runs, now stopped. */
  stoppedOrphans: string[];
  /** A canary whose server had exited, its share of traffic now back on the live version (null: none). */
  withdrawnCanary: string | null;
}

/** Deploys versions as local processes behind Traefik on the stable port. */
export class LocalDeployTarget implements DeployTarget {
  readonly kind = 'local';
  private readonly stateDir: string;
  private readonly targetsDir: string;
  private readonly testPauseAt: string | undefined;

  constructor(opts: LocalDeployTargetOptions) {
    this.stateDir = opts.stateDir;
    this.targetsDir = opts.prometheusTargetsDir ?? path.join(path.resolve(opts.stateDir), 'prometheus', 'targets');
    this.testPauseAt = opts.testPauseAt || undefined;
  }

  /** The test hook (see testPauseAt): waits at the chosen point until the test lets go; a no-op everywhere else. */
  private async pausePoint(dir: string, point: string): Promise<void> {
    if (this.testPauseAt !== point) return;
    writeFileSync(pausedAtPath(dir), point);
    while (existsSync(pausedAtPath(dir))) await sleep(100);
  }

  /**
   * A traffic switch in three steps that a crash cannot leave half done: the new state is saved
   * with `switching` (the intent), then the router moves, then the replaced versions stop, and only
   * then is `switching` cleared. Whoever takes the lock next finishes it (see settled()).
   */
  private async switchTo(dir: string, state: DeploymentState, pending: PendingSwitch): Promise<void> {
    state.switching = pending;
    this.save(dir, state);
    await this.pausePoint(dir, `${pending.op}:after-intent`);
    await this.finishSwitch(dir, state);
  }

  private async finishSwitch(dir: string, state: DeploymentState): Promise<void> {
    const pending = state.switching!;
    await ensureRouter(dir, pending.port, routesOf(state));
    for (const version of pending.stop) {
      if (version !== state.live && version !== state.previous) await this.stopVersion(dir, state, version);
    }
    state.switching = null;
    this.save(dir, state);
  }

  /** The deployment's state, with a switch that a crashed call left half done finished first. Call it under the lock. */
  private async settled(dir: string): Promise<DeploymentState> {
    const state = readState(dir);
    if (state.switching) await this.finishSwitch(dir, state);
    return state;
  }

  /** Saves the state and tells Prometheus (file_sd) which servers this deployment runs. */
  private save(dir: string, state: DeploymentState): void {
    writeState(dir, state);
    const name = path.basename(dir);
    const router = readRouter(dir);
    const groups = Object.entries(state.versions)
      .filter(([, r]) => r.pid !== null)
      .map(([version, r]) => ({ targets: [`127.0.0.1:${r.port}`], labels: { slipway_deployment: name, slipway_role: 'model', slipway_version: version, slipway_service: serviceLabel(version) } }));
    if (router) groups.push({ targets: [`127.0.0.1:${router.adminPort}`], labels: { slipway_deployment: name, slipway_role: 'router' } as never });
    writeJsonAtomic(path.join(this.targetsDir, `${name}.json`), groups);
  }

  /** Brings Traefik in line with the state: started if it is down, routes rewritten if they changed. */
  private async route(dir: string, state: DeploymentState, port: number): Promise<void> {
    await ensureRouter(dir, port, routesOf(state));
    this.save(dir, state);
  }

  private dir(deploymentName: string): string {
    return deploymentDir(this.stateDir, deploymentName);
  }

  /** The tag identifies a version's process across worker restarts (see processes.ts). */
  private tag(dir: string, version: string): string {
    return `model:${dir}:${version}`;
  }

  /**
   * Ensures `version` runs and is healthy; a retry finds the server the first attempt started. The
   * lock covers finding or spawning it; the wait for health runs outside, so a slow model load does
   * not hold up the promotes and starts of other releases of the deployment.
   */
  async ensureCandidate(req: CandidateRequest): Promise<LocalCandidate> {
    const dir = this.dir(req.deploymentName);
    for (let portTakenTries = 0; ; ) {
      const { record, pid, child } = await withLock(dir, () => this.findOrSpawn(dir, req));
      const spawned = child !== undefined;
      const outcome = await waitReady(url(record.port) + record.serve.healthPath, pid, record.serve.startupTimeoutMs, { logFile: record.logFile, ...(child && { child }) });
      if (outcome === 'ready') {
        if (spawned) await this.followRestart(dir, req.version, pid);
        return { endpoint: url(record.port), port: record.port, pid };
      }
      // It died after an earlier call started it: not a failed start of this call. Start it again.
      if (outcome === 'exited' && !spawned) continue;
      // Its port was taken between our choosing it and the server binding it: a port the kernel hands
      // out may go to any process's outgoing connection meanwhile. Started again on another port.
      if (outcome === 'exited' && portTakenTries++ < PORT_TAKEN_RETRIES && PORT_TAKEN.test(tail(record.logFile, 30))) continue;
      throw await withLock(dir, () => this.notStarted(dir, readState(dir), req.version, record, pid, outcome));
    }
  }

  /** The running server for `req` (same artifact), or a new one spawned and recorded. */
  private async findOrSpawn(dir: string, req: CandidateRequest): Promise<{ record: VersionRecord; pid: number; child?: SpawnedServer }> {
    const state = await this.settled(dir);
    const existing = state.versions[req.version];
    if (existing && isOurs(existing.pid, this.tag(dir, req.version))) {
      if (existing.artifactPath === req.artifactPath) {
        if (req.owner && existing.owner !== req.owner) {
          state.versions[req.version] = { ...existing, owner: req.owner };
          this.save(dir, state);
        }
        return { record: existing, pid: existing.pid };
      }
      // Same version name, other weights: not the desired state. The router follows the new port.
      await stopGroup(existing.pid);
    }
    const record: VersionRecord = {
      port: await unusedPort(state),
      pid: null,
      artifactPath: req.artifactPath,
      logFile: logPath(dir, req.version),
      serve: req.serve,
      env: req.env ?? {},
      ...(req.owner ? { owner: req.owner } : {}),
    };
    const child = this.spawn(dir, state, req.version, record);
    return { record, pid: child.pid, child };
  }

  /** A routed version that came back on a new port: Traefik follows it. */
  private async followRestart(dir: string, version: string, pid: number): Promise<void> {
    if (!readRouter(dir) || !(version in weightsOf(readState(dir)))) return;
    await withLock(dir, async () => {
      const state = readState(dir);
      const router = readRouter(dir);
      if (router && state.versions[version]?.pid === pid && version in weightsOf(state)) await this.route(dir, state, router.port);
    });
  }

  /** Spawns `version`'s server and records its pid (before health, so a crash during start-up leaves a pid to find or stop). */
  private spawn(dir: string, state: DeploymentState, version: string, record: VersionRecord): SpawnedServer {
    const argv = expandCommand(record.serve.command).map((a) => a.replaceAll('{model}', record.artifactPath).replaceAll('{port}', String(record.port)));
    const child = spawnDetached(argv, {
      cwd: record.serve.cwd,
      // SLIPWAY_VERSION: a server may echo it (x-slipway-version) so clients see which version answered.
      env: childEnv({ ...record.env, SLIPWAY_VERSION: version }),
      logFile: record.logFile,
      tag: this.tag(dir, version),
    });
    if (child.pid === undefined) {
      throw this.failedToStart(version, record, `could not be spawned (${argv[0]} not found or not executable in ${record.serve.cwd})`);
    }
    state.versions[version] = { ...record, pid: child.pid };
    this.save(dir, state);
    return child as SpawnedServer;
  }

  private async start(dir: string, state: DeploymentState, version: string, record: VersionRecord): Promise<LocalCandidate> {
    return this.awaitHealthy(dir, state, version, record, this.spawn(dir, state, version, record));
  }

  private async awaitHealthy(dir: string, state: DeploymentState, version: string, record: VersionRecord, child: SpawnedServer): Promise<LocalCandidate> {
    const pid = child.pid;
    const outcome = await waitReady(url(record.port) + record.serve.healthPath, pid, record.serve.startupTimeoutMs, { logFile: record.logFile, child });
    if (outcome !== 'ready') throw await this.notStarted(dir, state, version, record, pid, outcome);
    // A routed version that came back on a new port: Traefik follows it.
    const router = readRouter(dir);
    if (router && version in weightsOf(state)) await this.route(dir, state, router.port);
    return { endpoint: url(record.port), port: record.port, pid };
  }

  /** Stops a server that did not come up and forgets it; the error to throw says why, with its log tail. */
  private async notStarted(dir: string, state: DeploymentState, version: string, record: VersionRecord, pid: number, outcome: 'exited' | 'timeout'): Promise<DeployError> {
    await stopGroup(pid);
    // A later call may have started the version again meanwhile: its record is that call's.
    if (state.versions[version]?.pid === pid) {
      // The previous version keeps its record (pid null) so that rollback can still start it.
      if (state.previous === version) state.versions[version] = { ...record, pid: null };
      else delete state.versions[version];
      this.save(dir, state);
    }
    return this.failedToStart(version, record, outcome === 'exited' ? 'exited during start-up' : `was not healthy after ${record.serve.startupTimeoutMs} ms`);
  }

  private failedToStart(version: string, record: VersionRecord, why: string): DeployError {
    const logTail = tail(record.logFile, 30);
    return new DeployError('ModelServerFailedToStart', `model server for version ${version} ${why}. Last lines of ${record.logFile}:\n${logTail}`, {
      version,
      logFile: record.logFile,
      logTail,
    });
  }

  /** Switches the stable endpoint to `version` (all its traffic) and stops the version that was previous before (see switchTo). */
  async promote(req: PromoteRequest): Promise<PromoteResult> {
    const dir = this.dir(req.deploymentName);
    const endpoint = url(req.port);
    const previousVersion = await withLock(dir, async () => {
      const state = await this.settled(dir);
      const record = state.versions[req.version];
      if (!record || !isOurs(record.pid, this.tag(dir, req.version))) {
        throw new DeployError('VersionNotDeployed', `version ${req.version} of ${req.deploymentName} is not running; deploy it as a candidate first`, { version: req.version });
      }
      if (state.live !== req.version) {
        const retired = state.previous;
        state.previous = state.live;
        state.live = req.version;
        state.lastRollback = null;
        state.canary = null;
        // The new routes before the stop, so no request goes to a version that is being stopped.
        await this.switchTo(dir, state, { op: 'promote', port: req.port, stop: retired ? [retired] : [] });
      } else await this.route(dir, state, req.port);
      return state.previous;
    });
    return { endpoint, previousVersion };
  }

  /**
   * Gives `version` `weight`% of the stable endpoint next to the live version, in one route update.
   * Weight 0 takes the canary out (an abort); promote() makes it the live version.
   */
  async setCanary(req: CanaryRequest): Promise<CanaryResult> {
    if (!Number.isInteger(req.weight) || req.weight < 0 || req.weight > 100) {
      throw new DeployError('InvalidWeight', `canary weight ${req.weight}: expected a whole number from 0 to 100`, { weight: req.weight });
    }
    const dir = this.dir(req.deploymentName);
    return withLock(dir, async () => {
      const state = await this.settled(dir);
      if (req.weight === 0) {
        if (state.canary?.version === req.version) state.canary = null;
      } else {
        if (!state.live) throw new DeployError('NoStableVersion', `${req.deploymentName} has no live version: a canary needs a stable version beside it (deploy the first version all at once)`, {});
        if (state.live === req.version) throw new DeployError('VersionAlreadyLive', `${req.version} is already the live version of ${req.deploymentName}`, { version: req.version });
        if (!isOurs(state.versions[req.version]?.pid, this.tag(dir, req.version))) {
          throw new DeployError('VersionNotDeployed', `version ${req.version} of ${req.deploymentName} is not running; deploy it as a candidate first`, { version: req.version });
        }
        state.canary = { version: req.version, weight: req.weight };
      }
      if (state.live) await this.route(dir, state, req.port);
      else this.save(dir, state);
      return { endpoint: url(req.port), weights: weightsOf(state) };
    });
  }

  /** Puts the previous version back on the stable endpoint and stops the one that was live. */
  async rollback(req: RollbackRequest): Promise<RollbackResult> {
    const dir = this.dir(req.deploymentName);
    return withLock(dir, async () => {
      const state = await this.settled(dir);
      const router = readRouter(dir);
      if (req.expectedLive && state.live !== req.expectedLive) {
        if (state.lastRollback?.rolledBackVersion === req.expectedLive && router) return { endpoint: url(router.port), ...state.lastRollback };
        throw new DeployError('VersionNotLive', `${req.expectedLive} is not live in ${req.deploymentName} (live: ${state.live ?? 'none'}); rolling it back would undo a later release`, {
          live: state.live,
          expected: req.expectedLive,
        });
      }
      if (!state.previous || !state.live) {
        // A retried rollback finds its own earlier outcome: report it again rather than fail.
        if (state.lastRollback && state.live === state.lastRollback.restoredVersion && router) {
          await this.route(dir, state, router.port);
          return { endpoint: url(router.port), ...state.lastRollback };
        }
        throw new DeployError('NoPreviousVersion', `${req.deploymentName} has no previous version to roll back to`, { live: state.live });
      }
      if (!router) throw new DeployError('NoPreviousVersion', `${req.deploymentName} was never promoted`, { live: state.live });
      const restoredVersion = state.previous;
      const rolledBackVersion = state.live;
      const restored = state.versions[restoredVersion];
      if (!restored) throw new DeployError('NoPreviousVersion', `previous version ${restoredVersion} has no record to restart from`, { live: state.live });
      if (!isOurs(restored.pid, this.tag(dir, restoredVersion))) {
        await this.start(dir, state, restoredVersion, { ...restored, port: await unusedPort(state), pid: null });
      }
      state.live = restoredVersion;
      state.previous = null;
      state.canary = null;
      state.lastRollback = { restoredVersion, rolledBackVersion };
      // Traffic moves first; then the bad version can go.
      await this.switchTo(dir, state, { op: 'rollback', port: router.port, stop: [rolledBackVersion] });
      return { endpoint: url(router.port), restoredVersion, rolledBackVersion };
    });
  }

  /**
   * Stops a version unless it is live: a candidate that won and was promoted is no longer a
   * candidate, and cleanup after a failed pipeline must never take production down. The previous
   * version keeps its record (pid null) so that rollback can start it again. A canary loses its
   * traffic first.
   */
  async stop(req: { deploymentName: string; version: string }): Promise<{ stopped: boolean }> {
    const dir = this.dir(req.deploymentName);
    return withLock(dir, async () => {
      const state = await this.settled(dir);
      if (state.live === req.version) return { stopped: false };
      const router = readRouter(dir);
      if (state.canary?.version === req.version) {
        state.canary = null;
        if (router) await this.route(dir, state, router.port);
      }
      const record = state.versions[req.version];
      const stopped = await this.stopVersion(dir, state, req.version);
      if (state.previous === req.version && record) state.versions[req.version] = { ...record, pid: null };
      this.save(dir, state);
      return { stopped };
    });
  }

  private async stopVersion(dir: string, state: DeploymentState, version: string): Promise<boolean> {
    const record = state.versions[version];
    const running = isOurs(record?.pid, this.tag(dir, version));
    if (running) await stopGroup(record!.pid!);
    delete state.versions[version];
    return running;
  }

  async status(req: { deploymentName: string }): Promise<DeploymentStatus> {
    const dir = this.dir(req.deploymentName);
    const state = readState(dir);
    const router = readRouter(dir);
    const routerUp = router !== null && (await routerHealthy(dir, router, router.port));
    const versions = await Promise.all(
      Object.entries(state.versions).map(async ([version, r]) => {
        const running = isOurs(r.pid, this.tag(dir, version)) && (await probe(url(r.port) + r.serve.healthPath));
        return { version, endpoint: running ? url(r.port) : null, running, port: r.port, pid: r.pid };
      }),
    );
    return {
      deploymentName: req.deploymentName,
      live: state.live,
      previous: state.previous,
      stableEndpoint: routerUp ? url(router.port) : null,
      versions,
      canary: state.canary && state.canary.version !== state.live ? state.canary : null,
      weights: weightsOf(state),
      routerMetrics: routerUp ? `http://127.0.0.1:${router.adminPort}/metrics` : null,
    };
  }

  /** The deployments in this target's state dir. */
  deployments(): string[] {
    const root = path.join(path.resolve(this.stateDir), 'deployments');
    return existsSync(root) ? readdirSync(root).filter((name) => existsSync(statePath(path.join(root, name)))) : [];
  }

  /** Running candidates (neither live nor previous) and the release that owns each; read without the lock. */
  candidates(deploymentName: string): Array<{ version: string; owner: string }> {
    const dir = this.dir(deploymentName);
    const state = readState(dir);
    return Object.entries(state.versions)
      .filter(([version, r]) => version !== state.live && version !== state.previous && r.owner && isOurs(r.pid, this.tag(dir, version)))
      .map(([version, r]) => ({ version, owner: r.owner! }));
  }

  /**
   * One reconcile pass over a deployment: finishes a half-done switch, starts a dead Traefik again
   * with the routes the state asks for (the live version stays), stops the candidates whose owner
   * is in `goneOwners` (releases that no longer run; a canary among them loses its traffic first),
   * and takes the traffic away from a canary whose server exited (crashed, killed), which would
   * otherwise answer its share of production requests with 502s until its release's next step.
   */
  async repair(deploymentName: string, goneOwners: ReadonlySet<string>): Promise<DeploymentRepair> {
    const dir = this.dir(deploymentName);
    return withLock(dir, async () => {
      const finishedSwitch = Boolean(readState(dir).switching);
      const state = await this.settled(dir);
      const router = readRouter(dir);
      const routerRestarted = Boolean(state.live && router && !(await routerHealthy(dir, router, router.port)));
      const stoppedOrphans = Object.entries(state.versions)
        .filter(([version, r]) => version !== state.live && version !== state.previous && r.owner && goneOwners.has(r.owner))
        .map(([version]) => version);
      const canary = state.canary?.version;
      // Its record stays: the release's next step finds the version not running and aborts the canary.
      const withdrawnCanary = canary && canary !== state.live && !stoppedOrphans.includes(canary) && !isOurs(state.versions[canary]?.pid, this.tag(dir, canary)) ? canary : null;
      if (withdrawnCanary || stoppedOrphans.includes(canary ?? '')) state.canary = null;
      if (router && (routerRestarted || stoppedOrphans.length || withdrawnCanary)) await this.route(dir, state, router.port);
      for (const version of stoppedOrphans) await this.stopVersion(dir, state, version);
      if (stoppedOrphans.length || withdrawnCanary) this.save(dir, state);
      return { deploymentName, finishedSwitch, routerRestarted, stoppedOrphans, withdrawnCanary };
    });
  }

  /** Stops Traefik and every version, and forgets the deployment (logs stay). For tests and teardown. */
  async stopAll(req: { deploymentName: string }): Promise<void> {
    const dir = this.dir(req.deploymentName);
    await withLock(dir, async () => {
      await stopRouter(dir);
      const state = readState(dir);
      for (const version of Object.keys(state.versions)) await this.stopVersion(dir, state, version);
      removeSafe(statePath(dir));
      removeSafe(path.join(this.targetsDir, `${req.deploymentName}.json`));
    });
  }
}
