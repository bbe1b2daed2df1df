// The real `slipway` CLI as separate processes: one-shot commands, and long-running ones (worker,
// dev). Every process started here is stopped after its test file, also when a test fails or hangs.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll } from 'vitest';
import { packageRoot } from '../../src/system/tools.js';

const cliSource = path.join(packageRoot, 'src', 'client', 'cli.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** CLI processes still running; `stopClis()` ends them. */
const live = new Set<ChildProcess>();
// Registered on the file that imports this module: nothing a test started outlives its file.
afterAll(() => stopClis());

/** How long a CLI gets after SIGTERM to stop what it started (dev and demo stop their servers). */
const GRACE_MS = 20_000;

function spawnCli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', cliSource, ...args], { cwd: packageRoot, env: { ...process.env, ...env } });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** SIGTERM (or `signal`), then SIGKILL after the grace period; resolves once the process has exited. */
async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  if (await Promise.race([exited.then(() => true), sleep(GRACE_MS).then(() => false)])) return;
  child.kill('SIGKILL');
  await exited;
}

/** Stops every CLI process still running (each file does this in afterAll). */
export async function stopClis(): Promise<void> {
  await Promise.all([...live].map((c) => stop(c)));
}

/**
 * Runs the real `slipway` CLI (from source, through tsx) as a separate process. A run past
 * `timeoutMs` is stopped (SIGTERM, then SIGKILL) and resolves with what it printed, the code of the
 * stopped process and a note on stderr, so a hung command fails its test instead of outliving it.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, opts: { timeoutMs?: number; closeStdout?: boolean } = {}): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? 180_000;
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    // A reader that has gone away before the CLI writes, like `slipway list | head -0`.
    if (opts.closeStdout) child.stdout!.destroy();
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[test] slipway ${args[0]} still running after ${timeoutMs} ms: stopped\n`;
      void stop(child);
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface CliProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Stops it (SIGTERM by default; SIGINT is Ctrl-C) and waits for it; SIGKILL after a grace period. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a long-running CLI command and waits until its output contains `ready` (bounded). */
export async function startCli(args: string[], env: NodeJS.ProcessEnv, ready: string, timeoutMs = 120_000): Promise<CliProcess> {
  const child = spawnCli(args, env);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`slipway ${args[0]} was not ready in ${timeoutMs / 1000}s:\n${out}`)), timeoutMs);
      const check = () => {
        if (!out.includes(ready)) return;
        clearTimeout(timer);
        resolve();
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`slipway ${args[0]} exited with ${code}:\n${out}`));
      });
    });
  } catch (err) {
    await stop(child);
    throw err;
  }
  return {
    child,
    output: () => out,
    exited,
    stop: async (signal = 'SIGTERM') => {
      await stop(child, signal);
      return exited;
    },
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `slipway worker` as its own process and waits until it polls. */
export async function startWorkerProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
  const worker = await startCli(['worker', ...args], env, 'polling', 90_000);
  return {
    child: worker.child,
    output: worker.output,
    kill: async (signal = 'SIGTERM') => {
      await worker.stop(signal);
    },
  };
}

/** Live processes whose command line mentions `text` (e.g. a state dir), as `pid: command` lines. */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmd.includes(text) && state !== 'Z' && Number(pid) !== process.pid) found.push(`${pid}: ${cmd}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** Last resort after a failed test: SIGKILL whatever still mentions `text` (servers a killed CLI left). */
export function killProcessesMentioning(text: string): void {
  for (const line of processesMentioning(text)) {
    try {
      process.kill(Number(line.split(':')[0]), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
