// The slurm job backend: each launch is one batch job submitted with sbatch. The job's name (and
// its comment, `slipway:<name>`) carry the deterministic job name, so a retried activity finds the
// job on the cluster (attach) instead of queueing it again; its output file (`--output`) is the
// JSON-lines protocol, read like the local backend's log. Slurm keeps the state and exit code.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withLock } from '../file-lock.js';
import { JobLaunchError, JobUnsatisfiable, type JobBackend, type JobEvent, type JobHandle, type JobSpec, type JobStatus } from './backend.js';
import { LogEventReader, tailFile } from './log-reader.js';
import { isUnsatisfiable, parseJobRecord, shellQuote, slurmCommand, toJobStatus, type SlurmJobRecord } from './slurm-cli.js';

export interface SlurmJobBackendOptions {
  /** Job folders (`<stateDir>/slurm-jobs/<name>/`: batch script, output file, SLIPWAY_OUTPUT_DIR) on a filesystem the nodes share. */
  stateDir: string;
  /** The cluster's slurm.conf (`SLURM_CONF` for the commands); default: the worker's own environment. */
  slurmConf?: string;
  /** Partition for jobs whose spec names none (default: the cluster's default partition). */
  partition?: string;
  /** How long cancel waits for Slurm to end the job's processes (default 120 s; Slurm's KillWait applies first). */
  cancelTimeoutMs?: number;
}

/** States squeue lists for a job that still holds (or waits for) a place on the cluster. */
const LIVE_STATES = 'PENDING,CONFIGURING,RUNNING,SUSPENDED,REQUEUED,REQUEUE_HOLD,COMPLETING';
const LOST: JobStatus = { state: 'lost', exitCode: null, signal: null };
const isLive = (s: JobStatus) => s.state === 'pending' || s.state === 'running';
/** A poll this recent tells events() whether the job has ended. */
const FRESH_POLL_MS = 1_000;

/** One launch this instance reads: its events so far, and what the last poll said. */
interface Follower {
  reader: LogEventReader;
  reading: Promise<void>;
  polled?: { live: boolean; at: number };
}

/** Runs jobs on a Slurm cluster through sbatch, squeue, scontrol and scancel. */
export class SlurmJobBackend implements JobBackend {
  private readonly env: NodeJS.ProcessEnv;
  private readonly readers = new Map<string, Follower>();

  constructor(private readonly opts: SlurmJobBackendOptions) {
    this.env = opts.slurmConf ? { ...process.env, SLURM_CONF: opts.slurmConf } : process.env;
  }

  /** The Slurm job name: the job's name when it is a plain word, else a readable prefix and a hash. */
  slurmName(name: string): string {
    return /^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(name)
      ? name
      : `${name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80)}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  }

  jobDir(name: string): string {
    return path.join(this.opts.stateDir, 'slurm-jobs', this.slurmName(name));
  }

  /** Submits the job. A live earlier job of the same name is cancelled first (launches of one name take turns). */
  async launch(spec: JobSpec): Promise<JobHandle> {
    if (!spec.command[0]) throw new JobLaunchError(`job ${spec.name}: empty command`, true);
    if (!existsSync(spec.cwd)) throw new JobLaunchError(`job ${spec.name}: working directory ${spec.cwd} does not exist`, true, 'ENOENT');
    const bad = Object.keys(spec.env).find((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k));
    if (bad) throw new JobLaunchError(`job ${spec.name}: env name ${JSON.stringify(bad)} is not a valid variable name`, true);
    const dir = this.jobDir(spec.name);
    const outputDir = path.join(dir, 'output');
    mkdirSync(outputDir, { recursive: true });
    return withLock(dir, async () => {
      let replaced: string | undefined;
      for (const live of await this.jobsOf(spec.name, LIVE_STATES)) {
        await this.cancelId(live.id);
        replaced = live.id;
      }
      const script = path.join(dir, 'job.sh');
      writeFileSync(script, batchScript(spec, outputDir));
      const startedAt = new Date().toISOString();
      const res = await this.cmd('sbatch', [...this.sbatchArgs(spec, dir), script]);
      if (res.code !== 0) {
        const why = res.stderr.trim() || res.stdout.trim();
        if (isUnsatisfiable(why)) throw new JobUnsatisfiable(`job ${spec.name}: the Slurm cluster cannot run it as asked (${describe(spec)}): ${why}`);
        throw new JobLaunchError(`job ${spec.name}: sbatch failed (exit ${res.code}): ${why}`, false);
      }
      const id = res.stdout.trim().split(';')[0]!;
      return { backend: 'slurm', name: spec.name, id, logPath: path.join(dir, `slurm-${id}.log`), outputDir, startedAt, ...(replaced ? { replaced } : {}) };
    });
  }

  /**
   * The newest job of this name on the cluster while it is pending or running, or once it completed
   * (exit 0) while no worker watched it: the retry collects its result instead of training again.
   * Null when the newest failed or was cancelled, or the controller no longer lists it (MinJobAge).
   */
  async attach(name: string): Promise<JobHandle | null> {
    const newest = (await this.jobsOf(name, 'all')).at(-1);
    if (!newest) return null;
    const rec = await this.record(newest.id);
    if (!rec?.stdout) return null;
    const status = toJobStatus(rec.state, rec.reason, rec.exitCode, rec.exitSignal);
    if (!isLive(status) && status.state !== 'succeeded') return null;
    const submitted = Date.parse(rec.submitTime); // the cluster's local time, as this host reads it
    return {
      backend: 'slurm',
      name,
      id: rec.id,
      logPath: rec.stdout,
      outputDir: path.join(path.dirname(rec.stdout), 'output'),
      startedAt: Number.isNaN(submitted) ? new Date().toISOString() : new Date(submitted).toISOString(),
    };
  }

  async poll(handle: JobHandle): Promise<JobStatus> {
    const status = await this.status(handle);
    this.follower(handle).polled = { live: isLive(status), at: Date.now() };
    return status;
  }

  private async status(handle: JobHandle): Promise<JobStatus> {
    const rec = await this.record(handle.id);
    if (rec) return rec.name === this.slurmName(handle.name) ? toJobStatus(rec.state, rec.reason, rec.exitCode, rec.exitSignal) : LOST;
    // Purged from the controller (MinJobAge): the accounting database may still know it.
    const acct = await this.cmd('sacct', ['-j', handle.id, '-X', '-n', '-P', '-o', 'JobName,State,ExitCode']).catch(() => null);
    const [jobName, state, exit] = acct?.code === 0 ? (acct.stdout.trim().split('\n')[0]?.split('|') ?? []) : [];
    if (!state || jobName !== this.slurmName(handle.name)) return LOST;
    const [code, signal] = (exit ?? '0:0').split(':').map(Number);
    return toJobStatus(state, '', code ?? 0, signal ?? 0);
  }

  /** scancel, then waits until Slurm has ended the job's processes (the job leaves COMPLETING). */
  async cancel(handle: JobHandle): Promise<void> {
    if (!isLive(await this.poll(handle))) return;
    await this.cancelId(handle.id);
  }

  async logs(handle: JobHandle, opts?: { tailLines?: number }): Promise<string> {
    if (opts?.tailLines !== undefined) return tailFile(handle.logPath, opts.tailLines);
    try {
      return readFileSync(handle.logPath, 'utf8');
    } catch {
      return ''; // still pending: no output file yet
    }
  }

  async events(handle: JobHandle, opts?: { from?: number }): Promise<JobEvent[]> {
    const r = this.follower(handle);
    // Whether the job has ended decides if a last line without a newline counts. The follow loop
    // polls just before reading: a fresh poll answers that without asking Slurm a second time.
    const polled = r.polled && Date.now() - r.polled.at < FRESH_POLL_MS ? r.polled.live : null;
    const final = !(polled ?? isLive(await this.status(handle)));
    r.reading = r.reading.then(() => r.reader.read(final));
    await r.reading;
    return r.reader.events.slice(opts?.from ?? 0);
  }

  private follower(handle: JobHandle): Follower {
    const key = `${handle.id}@${handle.logPath}`;
    let run = this.readers.get(key);
    if (!run) this.readers.set(key, (run = { reader: new LogEventReader(handle.logPath, 0, null), reading: Promise.resolve() }));
    return run;
  }

  private sbatchArgs(spec: JobSpec, dir: string): string[] {
    const r = spec.resources ?? {};
    const partition = r.partition ?? this.opts.partition;
    return [
      '--parsable',
      `--job-name=${this.slurmName(spec.name)}`,
      `--comment=slipway:${spec.name}`,
      `--output=${path.join(dir, 'slurm-%j.log')}`,
      `--chdir=${spec.cwd}`,
      // Nothing of the worker's environment (its credentials included) travels: the script sets the job's.
      '--export=NONE',
      // A job lost with its node is Slipway's to resubmit from its checkpoint, not Slurm's to rerun from step 0.
      '--no-requeue',
      '--nodes=1',
      '--ntasks=1',
      ...(r.gpus ? [`--gres=gpu:${r.gpus}`] : []),
      ...(r.cpus ? [`--cpus-per-task=${Math.ceil(r.cpus)}`] : []), // Slurm counts whole CPUs
      ...(r.memoryMb ? [`--mem=${Math.ceil(r.memoryMb)}M`] : []),
      ...(partition ? [`--partition=${partition}`] : []),
      ...(spec.timeLimitSeconds ? [`--time=${Math.max(1, Math.ceil(spec.timeLimitSeconds / 60))}`] : []),
    ];
  }

  /** Jobs of this name in `states` (and comment: another tool's job of the same name is not ours), oldest first. */
  private async jobsOf(name: string, states: string): Promise<Array<{ id: string; state: string }>> {
    const res = await this.cmd('squeue', ['-h', `--name=${this.slurmName(name)}`, `--states=${states}`, '-o', '%i|%T|%k']);
    if (res.code !== 0) throw new JobLaunchError(`job ${name}: squeue failed (exit ${res.code}): ${res.stderr.trim()}`, false);
    return res.stdout
      .split('\n')
      .map((l) => l.split('|'))
      .filter(([id, , comment]) => id && comment === `slipway:${name}`)
      .map(([id, state]) => ({ id: id!, state: state! }))
      .sort((a, b) => Number(a.id) - Number(b.id));
  }

  private async record(id: string): Promise<SlurmJobRecord | null> {
    const res = await this.cmd('scontrol', ['show', 'job', id]);
    if (res.code === 0) return parseJobRecord(res.stdout);
    if (/Invalid job id/i.test(res.stderr)) return null;
    throw new Error(`scontrol show job ${id} failed (exit ${res.code}): ${res.stderr.trim()}`);
  }

  private async cancelId(id: string): Promise<void> {
    const res = await this.cmd('scancel', [id]);
    if (res.code !== 0 && !/already completing or completed|Invalid job id/i.test(res.stderr)) throw new Error(`scancel ${id} failed (exit ${res.code}): ${res.stderr.trim()}`);
    const deadline = Date.now() + (this.opts.cancelTimeoutMs ?? 120_000);
    for (;;) {
      const rec = await this.record(id);
      if (!rec || !isLive(toJobStatus(rec.state, rec.reason, rec.exitCode, rec.exitSignal))) return;
      if (Date.now() > deadline) throw new Error(`Slurm job ${id} was cancelled but is still ${rec.state}`);
      await sleep(200);
    }
  }

  private async cmd(cmd: string, args: string[]) {
    try {
      return await slurmCommand(cmd, args, this.env);
    } catch (err) {
      throw new JobLaunchError(`${cmd} could not run (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): install Slurm's client commands on this worker`, true);
    }
  }
}

/** The batch script: sets exactly the job's environment, then becomes the job's command. */
function batchScript(spec: JobSpec, outputDir: string): string {
  const env: Record<string, string> = { PYTHONUNBUFFERED: '1', ...spec.env, SLIPWAY_OUTPUT_DIR: outputDir, SLIPWAY_JOB_NAME: spec.name };
  if (spec.resumeFrom) env.SLIPWAY_RESUME_FROM = spec.resumeFrom;
  else delete env.SLIPWAY_RESUME_FROM;
  return [
    '#!/bin/sh',
    `# Slipway job ${spec.name.replace(/\n/g, ' ')}: written by the slurm backend. Its stdout is the job protocol.`,
    ...Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    `printf '[slipway] %s slurm job %s on %s runs %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SLURM_JOB_ID" "$(hostname)" ${shellQuote(JSON.stringify(spec.command) + (spec.resumeFrom ? ` resume-from=${spec.resumeFrom}` : ''))}`,
    `exec ${spec.command.map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
}

function describe(spec: JobSpec): string {
  const r = spec.resources ?? {};
  const parts = [r.gpus && `${r.gpus} GPU(s)`, r.cpus && `${r.cpus} CPU(s)`, r.memoryMb && `${r.memoryMb} MiB`, r.partition && `partition ${r.partition}`, spec.timeLimitSeconds && `time limit ${spec.timeLimitSeconds}s`];
  return parts.filter(Boolean).join(', ') || 'default resources';
}
