// The Ray job backend: each launch is a Ray job submitted through the Jobs REST API. Its submission id
// is the job's deterministic name (a relaunch of the name adds `--<n>`), so a retried activity finds
// the job it started, still queued or running, and follows it instead of submitting again. Progress
// comes from the job's log, which Ray keeps on the cluster: nothing here needs a disk the job shares.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants } from 'node:os';
import { JobLaunchError, JobUnsatisfiable, parseEventLine, type JobBackend, type JobEvent, type JobHandle, type JobSpec, type JobStatus } from './backend.js';
import { RayApiError, RayJobsClient, type RayJobInfo, type RaySubmission } from './ray-api.js';

export interface RayJobBackendOptions {
  /** The cluster's dashboard, as Ray's tools take it from RAY_ADDRESS: `http://host:8265`. */
  address: string;
  /** Folder on the job's host under which each launch gets `<id>/output` (`SLIPWAY_OUTPUT_DIR`). */
  outputRoot: string;
  /** Extra request headers (a token for a dashboard behind a proxy). */
  headers?: Record<string, string>;
  /** How long cancel waits for Ray to report the job stopped (default 60 s). */
  stopTimeoutMs?: number;
  /** How long cancel waits for a queued job to be scheduled and stopped before counting it stopped (default 10 s). */
  pendingStopMs?: number;
}

const LIVE = new Set(['PENDING', 'RUNNING']);
const NAME_KEY = 'slipway_job';
const LAUNCH_KEY = 'slipway_launch';

/** Runs jobs on a Ray cluster. Pending jobs report Ray's message as the reason they wait. */
export class RayJobBackend implements JobBackend {
  readonly client: RayJobsClient;
  /** Events read so far, per launch: the log only grows, so each read parses what is new. */
  private readonly read = new Map<string, { offset: number; events: JobEvent[] }>();
  /** Queued launches this instance asked to stop: they poll `cancelled` though Ray still lists them pending. */
  private readonly stopRequested = new Set<string>();

  constructor(private readonly opts: RayJobBackendOptions) {
    this.client = new RayJobsClient(opts.address.replace(/\/+$/, ''), opts.headers);
  }

  /** Submission id of the n-th launch of a name: Ray ids allow letters, digits, `-` and `_`. */
  submissionId(name: string, n: number): string {
    const safe = /^[A-Za-z0-9_-]{1,100}$/.test(name)
      ? name
      : `${name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80)}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
    return n === 1 ? safe : `${safe}--${n}`;
  }

  async launch(spec: JobSpec): Promise<JobHandle> {
    if (spec.command.length === 0) throw new JobLaunchError(`job ${spec.name}: empty command`, true);
    await this.checkSatisfiable(spec);
    // Launches of one name race through Ray's unique submission ids: the loser of a race sees the
    // winner, stops it like any earlier launch, and takes the next number.
    for (let round = 0; round < 20; round++) {
      const launches = await this.launches(spec.name);
      let replaced: string | undefined;
      for (const job of launches.filter((j) => LIVE.has(j.status))) {
        await this.stopAndWait(job.submission_id);
        replaced = job.submission_id;
      }
      const n = Math.max(0, ...launches.map(launchNumber)) + 1;
      const id = this.submissionId(spec.name, n);
      const outputDir = path.join(this.opts.outputRoot, id, 'output');
      if ((await this.client.submit(this.submission(spec, id, n, outputDir))) === 'exists') continue;
      const info = await this.client.get(id);
      return this.handle(spec.name, id, info, replaced);
    }
    throw new JobLaunchError(`job ${spec.name}: could not take a submission id on ${this.opts.address} (too many launches racing)`, false);
  }

  /** The latest launch of the name while it is queued or running, or once it succeeded (its result is still to collect). */
  async attach(name: string): Promise<JobHandle | null> {
    const latest = (await this.launches(name)).at(-1);
    return latest && (LIVE.has(latest.status) || latest.status === 'SUCCEEDED') ? this.handle(name, latest.submission_id, latest) : null;
  }

  async poll(handle: JobHandle): Promise<JobStatus> {
    const status = toStatus(await this.client.get(handle.id));
    return status.state === 'pending' && this.stopRequested.has(handle.id) ? { state: 'cancelled', exitCode: null, signal: null } : status;
  }

  async cancel(handle: JobHandle): Promise<void> {
    await this.stopAndWait(handle.id);
  }

  async logs(handle: JobHandle, opts?: { tailLines?: number }): Promise<string> {
    const text = await this.client.logs(handle.id);
    if (opts?.tailLines === undefined) return text;
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-opts.tailLines).join('\n') + (lines.length ? '\n' : '');
  }

  async events(handle: JobHandle, opts?: { from?: number }): Promise<JobEvent[]> {
    const final = !LIVE.has((await this.client.get(handle.id))?.status ?? 'STOPPED');
    const text = await this.client.logs(handle.id);
    const seen = this.read.get(handle.id) ?? { offset: 0, events: [] };
    // Only whole lines, unless the job has ended: a line still being written is not yet an event.
    const end = final ? text.length : text.lastIndexOf('\n') + 1;
    if (end > seen.offset) {
      for (const line of text.slice(seen.offset, end).split('\n')) {
        const event = parseEventLine(line);
        if (event) seen.events.push(event);
      }
      seen.offset = end;
    }
    this.read.set(handle.id, seen);
    return seen.events.slice(opts?.from ?? 0);
  }

  /** This name's launches on the cluster, oldest first. */
  private async launches(name: string): Promise<RayJobInfo[]> {
    return (await this.client.list()).filter((j) => j.metadata?.[NAME_KEY] === name).sort((a, b) => launchNumber(a) - launchNumber(b));
  }

  private submission(spec: JobSpec, id: string, n: number, outputDir: string): RaySubmission {
    const env: Record<string, string> = { PYTHONUNBUFFERED: '1', ...spec.env, SLIPWAY_OUTPUT_DIR: outputDir, SLIPWAY_JOB_NAME: spec.name };
    if (spec.resumeFrom) env.SLIPWAY_RESUME_FROM = spec.resumeFrom;
    const r = spec.resources ?? {};
    return {
      submission_id: id,
      // The job runs in its cwd, which must exist on the cluster's nodes (a shared or identical checkout).
      entrypoint: `mkdir -p ${sh(outputDir)} && cd ${sh(spec.cwd)} && exec ${spec.command.map(sh).join(' ')}`,
      ...(r.cpus !== undefined ? { entrypoint_num_cpus: r.cpus } : {}),
      ...(r.gpus !== undefined ? { entrypoint_num_gpus: r.gpus } : {}),
      ...(r.memoryMb !== undefined ? { entrypoint_memory: r.memoryMb * 1024 * 1024 } : {}),
      runtime_env: { env_vars: env },
      metadata: { [NAME_KEY]: spec.name, [LAUNCH_KEY]: String(n) },
    };
  }

  /** A request more than any node has would wait forever in Ray's queue: refuse it now. */
  private async checkSatisfiable(spec: JobSpec): Promise<void> {
    const r = spec.resources;
    if (!r || (r.gpus === undefined && r.cpus === undefined && r.memoryMb === undefined)) return;
    const most = await this.client.capacity();
    const short: string[] = [];
    if ((r.gpus ?? 0) > most.gpus) short.push(`${r.gpus} GPUs (the largest node has ${most.gpus})`);
    if ((r.cpus ?? 0) > most.cpus) short.push(`${r.cpus} CPUs (the largest node has ${most.cpus})`);
    if ((r.memoryMb ?? 0) * 1024 * 1024 > most.memoryBytes) short.push(`${r.memoryMb} MiB of memory (the largest node has ${Math.floor(most.memoryBytes / 1048576)} MiB)`);
    if (short.length) throw new JobUnsatisfiable(`job ${spec.name} asks for ${short.join(', ')} on the Ray cluster at ${this.opts.address}: no node can ever run it`);
  }

  /**
   * Stops a launch and waits until Ray reports it stopped. A job still queued cannot be dropped from
   * Ray's queue: its stop is delivered when the cluster schedules it, before it does any work. A job
   * just submitted is scheduled within seconds, so that is waited for; one that stays queued past
   * `pendingStopMs` (the cluster is busy) counts as stopped once asked, for this backend instance.
   */
  private async stopAndWait(id: string): Promise<void> {
    const deadline = Date.now() + (this.opts.stopTimeoutMs ?? 60_000);
    let stoppedAt = 0;
    for (;;) {
      const info = await this.client.get(id);
      if (!info || !LIVE.has(info.status)) return;
      if (stoppedAt && info.status === 'PENDING' && Date.now() - stoppedAt > (this.opts.pendingStopMs ?? 10_000)) {
        this.stopRequested.add(id);
        return;
      }
      if (!stoppedAt) {
        await this.client.stop(id);
        stoppedAt = Date.now();
      }
      if (Date.now() > deadline) throw new RayApiError(`Ray job ${id} is still ${info.status} after a stop request`, null, true);
      await sleep(200);
    }
  }

  private handle(name: string, id: string, info: RayJobInfo | null, replaced?: string): JobHandle {
    return {
      backend: 'ray',
      name,
      id,
      logPath: `${this.opts.address}/api/jobs/${id}/logs`,
      outputDir: path.join(this.opts.outputRoot, id, 'output'),
      startedAt: new Date(info?.start_time ?? Date.now()).toISOString(),
      ...(replaced ? { replaced } : {}),
    };
  }
}

function launchNumber(job: RayJobInfo): number {
  const n = Number(job.metadata?.[LAUNCH_KEY]);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

function toStatus(info: RayJobInfo | null): JobStatus {
  if (!info) return { state: 'lost', exitCode: null, signal: null };
  switch (info.status) {
    case 'PENDING':
      return { state: 'pending', ...(info.message ? { reason: info.message } : {}), exitCode: null, signal: null };
    case 'RUNNING':
      return { state: 'running', exitCode: null, signal: null };
    case 'SUCCEEDED':
      return { state: 'succeeded', exitCode: 0, signal: null };
    case 'STOPPED':
      return { state: 'cancelled', exitCode: null, signal: null };
    default: {
      // Python reports death by a signal as a negative return code.
      const code = info.driver_exit_code;
      if (code !== null && code < 0) {
        const signal = Object.entries(constants.signals).find(([, n]) => n === -code)?.[0] ?? null;
        return { state: 'failed', exitCode: 128 - code, signal };
      }
      return { state: 'failed', exitCode: code, signal: null };
    }
  }
}

/** Quotes one word for the POSIX shell Ray runs the entrypoint with. */
function sh(word: string): string {
  return /^[A-Za-z0-9_./=:,@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
