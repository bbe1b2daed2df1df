// The local job backend: each job is a subprocess in its own process group, under
// `<stateDir>/jobs/<name>/`:
//   job.log       stdout + stderr of every launch (a `[slipway]` line marks each launch)
//   events.jsonl  the current launch's protocol events
//   job.pid       { pid, startTime, logOffset, ... } of the current launch
//   output/       SLIPWAY_OUTPUT_DIR: checkpoints and artifacts, kept across launches
// The job's output goes straight to the file, so it outlives a worker that is SIGKILLed; the next
// launch of the same name (the activity's retry) finds it through job.pid and stops it first.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { constants } from 'node:os';
import path from 'node:path';
import { JobLaunchError, type JobBackend, type JobEvent, type JobHandle, type JobSpec, type JobStatus } from './backend.js';
import { LogEventReader, tailFile } from './log-reader.js';
import { isAlive, killProcessGroup, processStartTime } from './process-group.js';

interface PidFile { pid: number; startTime: string | null; logOffset: number; startedAt: string; command: string[] }

interface Launch {
  pid: number;
  startTime: string | null;
  exited?: Promise<void>;
  exit?: { code: number; signal: string | null };
  cancelled: boolean;
  reader: LogEventReader;
  reading: Promise<void>;
}

/** Every job this process spawned, by pid, shared by all backend instances: a second backend (a
 * "new worker" in the same process) then sees the exit code and can wait until a child is reaped. */
const ownLaunches = new Map<number, Launch>();
const MAX_REMEMBERED = 1000;

function remember(launch: Launch): void {
  ownLaunches.set(launch.pid, launch);
  if (ownLaunches.size <= MAX_REMEMBERED) return;
  for (const [pid, old] of ownLaunches) {
    if (old.exit) {
      ownLaunches.delete(pid);
      return;
    }
  }
}

export interface LocalJobBackendOptions {
  stateDir: string;
  /** SIGTERM → SIGKILL grace when stopping a job (default 10 s). */
  killGraceMs?: number;
}

/** Runs jobs as local subprocesses (CPU here, the local GPU where there is one). */
export class LocalJobBackend implements JobBackend {
  private readonly launches = new Map<string, Launch>();
  private readonly graceMs: number;

  constructor(private readonly opts: LocalJobBackendOptions) {
    this.graceMs = opts.killGraceMs ?? 10_000;
  }

  /** The job's folder; names that are not plain file names get a hash suffix to stay distinct. */
  jobDir(name: string): string {
    const safe = /^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$/.test(name)
      ? name
      : `${name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120)}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
    return path.join(this.opts.stateDir, 'jobs', safe);
  }

  async launch(spec: JobSpec): Promise<JobHandle> {
    const [cmd, ...args] = spec.command;
    if (!cmd) throw new JobLaunchError(`job ${spec.name}: empty command`, true);
    if (!existsSync(spec.cwd)) throw new JobLaunchError(`job ${spec.name}: working directory ${spec.cwd} does not exist`, true, 'ENOENT');
    const dir = this.jobDir(spec.name);
    const outputDir = path.join(dir, 'output');
    const logPath = path.join(dir, 'job.log');
    mkdirSync(outputDir, { recursive: true });
    const replaced = await this.stopLeftover(dir);

    const startedAt = new Date().toISOString();
    appendFileSync(logPath, `[slipway] ${startedAt} launch ${JSON.stringify(spec.command)}${spec.resumeFrom ? ` resume-from=${spec.resumeFrom}` : ''}\n`);
    const logOffset = statSync(logPath).size;
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', ...spec.env, SLIPWAY_OUTPUT_DIR: outputDir, SLIPWAY_JOB_NAME: spec.name };
    if (spec.resumeFrom) env.SLIPWAY_RESUME_FROM = spec.resumeFrom;
    else delete env.SLIPWAY_RESUME_FROM;

    const fd = openSync(logPath, 'a');
    let child;
    try {
      child = spawn(cmd, args, { cwd: spec.cwd, env, detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd); // the child holds its own copy
    }
    if (child.pid === undefined) {
      const [err] = (await once(child, 'error')) as [NodeJS.ErrnoException];
      const permanent = err.code === 'ENOENT' || err.code === 'EACCES';
      appendFileSync(logPath, `[slipway] could not start ${cmd}: ${err.message}\n`);
      throw new JobLaunchError(`job ${spec.name}: cannot start command ${JSON.stringify(cmd)}: ${err.code ?? err.message}`, permanent, err.code);
    }
    const pid = child.pid;
    const launch: Launch = {
      pid,
      startTime: processStartTime(pid),
      cancelled: false,
      reader: new LogEventReader(logPath, logOffset, path.join(dir, 'events.jsonl')),
      reading: Promise.resolve(),
    };
    launch.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        launch.exit = { code: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0), signal };
        // End stragglers the job left in its group (its pgid cannot be recycled while they live).
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // None left.
        }
        resolve();
      });
    });
    remember(launch);
    child.unref(); // a running job must not keep a finished worker (or CLI) alive
    writeFileSync(path.join(dir, 'events.jsonl'), '');
    const record: PidFile = { pid, startTime: launch.startTime, logOffset, startedAt, command: spec.command };
    writeFileSync(path.join(dir, 'job.pid'), JSON.stringify(record));
    return { backend: 'local', name: spec.name, id: String(pid), logPath, outputDir, startedAt, ...(replaced ? { replaced } : {}) };
  }

  async poll(handle: JobHandle): Promise<JobStatus> {
    const launch = this.find(handle);
    if (launch.exit) {
      const { code, signal } = launch.exit;
      return { state: launch.cancelled ? 'cancelled' : code === 0 ? 'succeeded' : 'failed', exitCode: code, signal };
    }
    if (launch.exited || isAlive(launch.pid, launch.startTime)) return { state: 'running', exitCode: null, signal: null };
    return { state: 'lost', exitCode: null, signal: null };
  }

  async cancel(handle: JobHandle): Promise<void> {
    const launch = this.find(handle);
    if (launch.exit) return;
    launch.cancelled = true;
    await killProcessGroup(launch.pid, { graceMs: this.graceMs, startTime: launch.startTime, exited: launch.exited });
  }

  async logs(handle: JobHandle, opts?: { tailLines?: number }): Promise<string> {
    if (opts?.tailLines !== undefined) return tailFile(handle.logPath, opts.tailLines);
    return readFileSync(handle.logPath, 'utf8');
  }

  async events(handle: JobHandle, opts?: { from?: number }): Promise<JobEvent[]> {
    const launch = this.find(handle);
    const final = launch.exit !== undefined || (!launch.exited && !isAlive(launch.pid, launch.startTime));
    // Serialize reads: the reader keeps an offset and a partial line.
    launch.reading = launch.reading.then(() => launch.reader.read(final));
    await launch.reading;
    return launch.reader.events.slice(opts?.from ?? 0);
  }

  /** Stops a still-running earlier launch recorded in job.pid (an orphan of a dead worker). */
  private async stopLeftover(dir: string): Promise<string | undefined> {
    const prev = readPidFile(dir);
    if (!prev) return undefined;
    const own = ownLaunches.get(prev.pid);
    if (own ? own.exit !== undefined : !isAlive(prev.pid, prev.startTime)) return undefined;
    if (own) own.cancelled = true;
    await killProcessGroup(prev.pid, { graceMs: this.graceMs, startTime: prev.startTime, exited: own?.exited });
    appendFileSync(path.join(dir, 'job.log'), `[slipway] stopped leftover process group ${prev.pid} from an earlier launch\n`);
    return String(prev.pid);
  }

  /** The launch behind a handle; one from another process is rebuilt from job.pid. */
  private find(handle: JobHandle): Launch {
    const pid = Number(handle.id);
    const known = this.launches.get(handle.id) ?? ownLaunches.get(pid);
    if (known) return known;
    const dir = path.dirname(handle.logPath);
    const rec = readPidFile(dir);
    const launch: Launch = {
      pid,
      startTime: rec?.pid === pid ? rec.startTime : null,
      cancelled: false,
      reader: new LogEventReader(handle.logPath, rec?.pid === pid ? rec.logOffset : 0, path.join(dir, 'events.jsonl')),
      reading: Promise.resolve(),
    };
    this.launches.set(handle.id, launch);
    return launch;
  }
}

function readPidFile(dir: string): PidFile | null {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'job.pid'), 'utf8')) as PidFile;
  } catch {
    return null;
  }
}
