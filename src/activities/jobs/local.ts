// The local job backend: each job is a subprocess in its own process group, with its output, exit
// code and cancellation kept on disk under `<stateDir>/jobs/<name>/` (see job-files.ts). The job's
// output goes straight to the file, so it outlives a worker that is SIGKILLed; a restarted worker
// given the heartbeated handle follows it from the files, and the next launch of the same name
// (a retry that starts over) finds it through job.pid and stops it first.
import { randomBytes, createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { withLock } from '../file-lock.js';
import { JobLaunchError, type JobBackend, type JobEvent, type JobHandle, type JobSpec, type JobStatus } from './backend.js';
import { eventsFile, exitFile, isCancelled, logFile, markCancelled, readCurrent, readExit, readLaunch, recordLaunch, runsDir, sealLaunch, type LaunchRecord } from './job-files.js';
import { LogEventReader, tailFile } from './log-reader.js';
import { isAlive, killProcessGroup, processStartTime } from './process-group.js';
import { CommandNotRunnable, resolveExecutable, spawnJob } from './spawn-job.js';
import { childEnv } from '../../system/child-env.js';
import { Wakeup } from '../../system/wakeup.js';

interface Exit {
  code: number;
  signal: string | null;
}

/** A job this process spawned: only its parent can wait for it (and sees a SIGKILLed supervisor's signal). */
interface Child {
  exited: Promise<void>;
  exit?: Exit;
}

/** Children of this process, by launch, shared by all backend instances in it. */
const children = new Map<string, Child>();
const MAX_REMEMBERED = 1000;
const launchKey = (rec: { pid: number; startedAt: string }) => `${rec.pid}@${rec.startedAt}`;

function remember(key: string, child: Child): void {
  children.set(key, child);
  if (children.size <= MAX_REMEMBERED) return;
  for (const [k, old] of children) {
    if (old.exit) {
      children.delete(k);
      return;
    }
  }
}

/** A launch this backend instance follows: its record, and a reader that carries on where it stopped. */
interface Followed {
  dir: string;
  rec: LaunchRecord;
  reader: LogEventReader;
  reading: Promise<void>;
  /** Watches the launch's log and exit files while someone waits on `changed`; closed once it ended. */
  wakeup?: Wakeup;
}

export interface LocalJobBackendOptions {
  stateDir: string;
  /** SIGTERM → SIGKILL grace when stopping a job (default 10 s). */
  killGraceMs?: number;
}

const LOST: JobStatus = { state: 'lost', exitCode: null, signal: null };
const RUNNING: JobStatus = { state: 'running', exitCode: null, signal: null };

/** Runs jobs as local subprocesses (CPU here, the local GPU where there is one). */
export class LocalJobBackend implements JobBackend {
  private readonly followed = new Map<string, Followed>();
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

  /** Starts the job. Launches of one name take turns (a lock file), so however many race, one job runs. */
  async launch(spec: JobSpec): Promise<JobHandle> {
    const [cmd, ...args] = spec.command;
    if (!cmd) throw new JobLaunchError(`job ${spec.name}: empty command`, true);
    if (!existsSync(spec.cwd)) throw new JobLaunchError(`job ${spec.name}: working directory ${spec.cwd} does not exist`, true, 'ENOENT');
    const dir = this.jobDir(spec.name);
    const outputDir = path.join(dir, 'output');
    mkdirSync(outputDir, { recursive: true });
    return withLock(dir, async () => {
      const logPath = logFile(dir);
      const replaced = await this.stopCurrent(dir);
      const startedAt = new Date().toISOString();
      appendFileSync(logPath, `[slipway] ${startedAt} launch ${JSON.stringify(spec.command)}${spec.resumeFrom ? ` resume-from=${spec.resumeFrom}` : ''}\n`);
      const logOffset = statSync(logPath).size;
      // The worker's credentials (MLflow, webhooks) stay with the worker: the job sees what it needs.
      const env = childEnv({ PYTHONUNBUFFERED: '1', ...spec.env, SLIPWAY_OUTPUT_DIR: outputDir, SLIPWAY_JOB_NAME: spec.name, SLIPWAY_RESUME_FROM: spec.resumeFrom || undefined });

      const token = randomBytes(8).toString('hex');
      let child;
      try {
        const exe = resolveExecutable(cmd, spec.cwd, env.PATH);
        child = await spawnJob([exe, ...args], { cwd: spec.cwd, env, logPath, exitPath: exitFile(dir, token) });
      } catch (err) {
        const errno = err instanceof CommandNotRunnable ? err.errno : (err as NodeJS.ErrnoException).code;
        appendFileSync(logPath, `[slipway] could not start ${cmd}: ${(err as Error).message}\n`);
        throw new JobLaunchError(`job ${spec.name}: cannot start command ${JSON.stringify(cmd)}: ${errno ?? (err as Error).message}`, err instanceof CommandNotRunnable, errno);
      }
      const rec = { pid: child.pid, startTime: processStartTime(child.pid), token, logOffset, startedAt, command: spec.command };
      const own: Child = {
        exited: new Promise((resolve) =>
          child.once('exit', (code, signal) => {
            own.exit = { code: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0), signal };
            resolve();
          }),
        ),
      };
      // End stragglers the job left in its group (its pgid cannot be recycled while they live).
      void own.exited.then(() => killGroupNow(rec.pid));
      remember(launchKey(rec), own);
      recordLaunch(dir, rec);
      this.followed.set(launchKey(rec), { dir, rec, reader: new LogEventReader(logPath, logOffset, eventsFile(dir, token)), reading: Promise.resolve() });
      return { backend: 'local', name: spec.name, id: String(rec.pid), logPath, outputDir, startedAt, ...(replaced ? { replaced } : {}) };
    });
  }

  async poll(handle: JobHandle): Promise<JobStatus> {
    const run = this.follow(handle);
    if (!run) return LOST;
    const status = this.status(run.dir, run.rec);
    if (status.state !== 'running' && run.wakeup) {
      run.wakeup.close();
      delete run.wakeup;
    }
    return status;
  }

  /**
   * Wakes on the job's own writes to its log (progress lines), on its exit file (any process may
   * be following it after a worker restart), and on the exit of a child of this process.
   */
  async changed(handle: JobHandle, maxMs: number, signal?: AbortSignal): Promise<void> {
    const run = this.follow(handle);
    if (!run) return new Wakeup().next(maxMs, signal);
    if (!run.wakeup) {
      const wakeup = new Wakeup()
        .watch(logFile(run.dir))
        .watch(runsDir(run.dir), (name) => name === `${run.rec.token}.exit`);
      void children.get(launchKey(run.rec))?.exited.then(wakeup.notify);
      // Whatever happened before the watches began is seen by one more round right away.
      wakeup.notify();
      run.wakeup = wakeup;
    }
    await run.wakeup.next(maxMs, signal);
  }

  /** Stops the job's whole process group; afterwards every backend reading the same state dir polls `cancelled`. */
  async cancel(handle: JobHandle): Promise<void> {
    const run = this.follow(handle);
    if (!run || this.status(run.dir, run.rec).state !== 'running') return;
    markCancelled(run.dir, run.rec);
    const child = children.get(launchKey(run.rec));
    await killProcessGroup(run.rec.pid, { graceMs: this.graceMs, startTime: run.rec.startTime, exited: child?.exited });
    // Whoever followed it has stopped: its watches go too.
    run.wakeup?.close();
    delete run.wakeup;
  }

  async logs(handle: JobHandle, opts?: { tailLines?: number }): Promise<string> {
    if (opts?.tailLines !== undefined) return tailFile(handle.logPath, opts.tailLines);
    return readFileSync(handle.logPath, 'utf8');
  }

  async events(handle: JobHandle, opts?: { from?: number }): Promise<JobEvent[]> {
    const run = this.follow(handle);
    if (!run) return [];
    const final = this.status(run.dir, run.rec).state !== 'running';
    // A newer launch may have begun since: its output in job.log is not this launch's.
    const end = readLaunch(run.dir, run.rec.pid, run.rec.startedAt)?.logEnd;
    // Serialize reads: the reader keeps an offset and a partial line.
    run.reading = run.reading.then(() => run.reader.read(final, end));
    await run.reading;
    return run.reader.events.slice(opts?.from ?? 0);
  }

  /** What the files (or, for our own child, the exit it reported) say about a launch. */
  private status(dir: string, rec: LaunchRecord): JobStatus {
    const child = children.get(launchKey(rec));
    // The supervisor's record is exact (the job's own signal); our child's exit covers a supervisor killed by SIGKILL.
    let exit: Exit | null = readExit(dir, rec) ?? child?.exit ?? null;
    if (!exit) {
      if (child || isAlive(rec.pid, rec.startTime)) return RUNNING;
      exit = readExit(dir, rec); // written just before the supervisor exits
    }
    const cancelled = isCancelled(dir, rec);
    if (!exit) return cancelled ? { state: 'cancelled', exitCode: null, signal: null } : LOST;
    return { state: cancelled ? 'cancelled' : exit.code === 0 ? 'succeeded' : 'failed', exitCode: exit.code, signal: exit.signal };
  }

  /** Stops the current launch of a job if it still runs (e.g. the orphan of a dead worker); returns its id. */
  private async stopCurrent(dir: string): Promise<string | undefined> {
    const prev = readCurrent(dir);
    if (!prev) return undefined;
    let stopped: string | undefined;
    if (this.status(dir, prev).state === 'running') {
      markCancelled(dir, prev);
      await killProcessGroup(prev.pid, { graceMs: this.graceMs, startTime: prev.startTime, exited: children.get(launchKey(prev))?.exited });
      stopped = String(prev.pid);
    }
    sealLaunch(dir, prev, statSync(logFile(dir)).size);
    if (stopped) appendFileSync(logFile(dir), `[slipway] stopped leftover process group ${prev.pid} from an earlier launch\n`);
    return stopped;
  }

  /** The launch behind a handle: one this instance follows already, or one rebuilt from the files. */
  private follow(handle: JobHandle): Followed | null {
    const key = `${handle.id}@${handle.startedAt}`;
    const known = this.followed.get(key);
    if (known) return known;
    const dir = path.dirname(handle.logPath);
    const rec = readLaunch(dir, Number(handle.id), handle.startedAt);
    if (!rec) return null;
    // Readers of one launch may all keep its events file: each appends only what the file lacks.
    const run = { dir, rec, reader: new LogEventReader(handle.logPath, rec.logOffset, eventsFile(dir, rec.token)), reading: Promise.resolve() };
    this.followed.set(key, run);
    return run;
  }
}

function killGroupNow(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // None left.
  }
}
