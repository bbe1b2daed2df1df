import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tail } from '../system/files.js';
import { isPortFree } from '../system/ports.js';

/** Raised when a port Slipway wants to listen on is taken; the message names the port and the flag. */
export class PortInUseError extends Error {
  readonly code = 'SLIPWAY_PORT_IN_USE';
  constructor(
    readonly port: number,
    readonly what: string,
    readonly flag: string,
  ) {
    super(`port ${port} (${what}) is already in use. Stop what is using it, or choose another port with ${flag}.`);
  }
}

export async function assertPortFree(port: number, what: string, flag: string): Promise<void> {
  if (!(await isPortFree(port))) throw new PortInUseError(port, what, flag);
}

/**
 * A long-running child process (a server) with its output in a log file. It runs in its own
 * process group so that stop() also ends what it spawned (MLflow's uvicorn workers, for one).
 */
export class ManagedProcess {
  private exited = false;
  readonly exit: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        resolve(code ?? (signal ? 128 : null));
      });
    });
  }

  /**
   * `outlive`: the process writes its log file itself (no pipe through this process) and does not
   * keep this process alive, so it can go on after this process exits (a server shared by several
   * test files, stopped by whoever holds its pid: see stopProcessGroup).
   */
  static start(name: string, command: string, args: string[], opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; outlive?: boolean }): ManagedProcess {
    mkdirSync(path.dirname(opts.logFile), { recursive: true });
    if (opts.outlive) {
      const fd = openSync(opts.logFile, 'a');
      const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      child.unref();
      return new ManagedProcess(name, child, opts.logFile);
    }
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    return new ManagedProcess(name, child, opts.logFile);
  }

  get running(): boolean {
    return !this.exited;
  }

  /** Polls `probe` until it resolves true; fails early, with the log's tail, if the process exits. */
  async waitUntil(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) {
        throw new Error(`${this.name} exited during start-up. Last lines of ${this.logFile}:\n${tail(this.logFile)}`);
      }
      if (await probe().catch(() => false)) return;
      await sleep(250);
    }
    await this.stop();
    throw new Error(`${this.name} did not become ready in ${timeoutMs / 1000}s. Last lines of ${this.logFile}:\n${tail(this.logFile)}`);
  }

  /** SIGTERM to the whole group, SIGKILL after the grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const pid = this.child.pid;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    signalGroup('SIGTERM');
    const timedOut = await Promise.race([this.exit.then(() => false), sleep(graceMs).then(() => true)]);
    // Also kill stragglers left in the group after the leader exited.
    signalGroup('SIGKILL');
    if (timedOut) await this.exit;
  }
}

/**
 * Stops a process group this process did not start itself (a server another process left running on
 * purpose): SIGTERM to the group, SIGKILL to whatever is left after `graceMs`.
 */
export async function stopProcessGroup(pgid: number, graceMs: number): Promise<void> {
  const signalGroup = (signal: NodeJS.Signals | 0): boolean => {
    try {
      process.kill(-pgid, signal);
      return true;
    } catch {
      return false; // no process left in the group
    }
  };
  if (!signalGroup('SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && signalGroup(0)) await sleep(100);
  signalGroup('SIGKILL');
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  return res.ok;
}
