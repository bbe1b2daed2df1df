// The job backend contract. A training job is any command that speaks the job protocol on stdout:
// a line that is a JSON object with a string `type` is an event, any other line is log text.
// The local backend runs subprocesses; cluster backends (Ray, Slurm) implement the same interface
// (launch = submit / sbatch, poll = job status / squeue, ...).

/** What a job asks the cluster for. Each backend maps it to its own terms (Ray entrypoint
 * resources, Slurm `--gres=gpu:N --cpus-per-task --mem --partition`); the local backend ignores it. */
export interface JobResources {
  gpus?: number;
  cpus?: number;
  /** Memory in MiB. */
  memoryMb?: number;
  /** Slurm partition (other backends ignore it). */
  partition?: string;
}

/** What to run. `name` is idempotent: derived from the workflow id and stage/variant, so a retry
 * of the same activity addresses the same job (and a backend can find its leftovers). */
export interface JobSpec {
  name: string;
  command: string[];
  cwd: string;
  env: Record<string, string>;
  /** Checkpoint to resume from; the job sees it as `SLIPWAY_RESUME_FROM`. */
  resumeFrom?: string;
  resources?: JobResources;
  /** Run time limit once the job runs (queue time not included), for engines that enforce one. */
  timeLimitSeconds?: number;
}

/** A launched job. Serializable, so it could travel in a heartbeat or a workflow result. */
export interface JobHandle {
  backend: string;
  name: string;
  /** Backend-specific id of this launch (a pid for the local backend, a job id for Slurm). */
  id: string;
  /** Where the job's combined stdout/stderr is kept. */
  logPath: string;
  /** The job's own output folder (`SLIPWAY_OUTPUT_DIR`): checkpoints and artifacts go there. */
  outputDir: string;
  startedAt: string;
  /** Id of an earlier launch of the same name that was still running and was stopped first. */
  replaced?: string;
}

/** `pending`: queued on the cluster, not yet running. `lost`: the backend no longer knows the job's
 * outcome (e.g. it was launched by another process). */
export type JobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'lost';

export interface JobStatus {
  state: JobState;
  /** Why a pending job waits, in the engine's words (Slurm's `Resources`, `Priority`, ...). */
  reason?: string;
  /** Exit code; 128 + signal number when killed by a signal; null while running or when lost. */
  exitCode: number | null;
  signal: string | null;
}

export interface ProgressEvent { type: 'progress'; step: number; total_steps?: number; loss?: number }
/** A file a job stored itself (the Python helper does): where, and what its bytes hash to. */
export interface StoredFile { uri?: string; sha256?: string; size?: number }
/** `path` is on the job's host; with `uri` + `sha256` the job already put it in the artifact store. */
export interface CheckpointEvent extends StoredFile { type: 'checkpoint'; step: number; path: string }
export interface ResumedEvent { type: 'resumed'; step: number }
export interface ArtifactEvent extends StoredFile { type: 'artifact'; path: string; metrics?: Record<string, unknown> }
/** An event of a type Slipway does not interpret; kept so callers can read job-specific events. */
export interface OtherEvent { type: string; [key: string]: unknown }
export type JobEvent = ProgressEvent | CheckpointEvent | ResumedEvent | ArtifactEvent | OtherEvent;

export interface JobBackend {
  /** Starts the job. A still-running earlier launch of the same name is stopped first. */
  launch(spec: JobSpec): Promise<JobHandle>;
  /**
   * A live (pending or running) launch of this name, for a retried activity to follow instead of
   * launching again: a cluster job keeps its place in the queue and its progress across a worker
   * crash. Null when there is none. Backends whose jobs cannot outlive the worker leave it out.
   * A backend may also return a launch that succeeded while no worker watched it, so the retry
   * collects its result instead of training again (Ray does); never a failed or cancelled one.
   */
  attach?(name: string): Promise<JobHandle | null>;
  poll(handle: JobHandle): Promise<JobStatus>;
  /** Stops the job and everything it started; resolves once they are gone. */
  cancel(handle: JobHandle): Promise<void>;
  /** The job's log text (the last `tailLines` lines when given). */
  logs(handle: JobHandle, opts?: { tailLines?: number }): Promise<string>;
  /** Events of this launch in order, starting at index `from` (default 0), so callers can page. */
  events(handle: JobHandle, opts?: { from?: number }): Promise<JobEvent[]>;
  /**
   * Resolves once the launch may have news for `poll` or `events` (output appended, the process
   * ended), after `maxMs` at the latest, or when `signal` aborts. Backends that can watch their
   * jobs offer it, so a follower reacts at once instead of on its next poll; without it (cluster
   * backends, whose state lives behind an API) the follower sleeps its poll interval.
   */
  changed?(handle: JobHandle, maxMs: number, signal?: AbortSignal): Promise<void>;
}

/** A job could not be started. `permanent` when retrying cannot help (command or cwd missing). */
export class JobLaunchError extends Error {
  readonly code: string = 'SLIPWAY_JOB_LAUNCH_FAILED';
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'JobLaunchError';
  }
}

/** The cluster can never run the job as asked (more GPUs than any node has, an unknown partition). */
export class JobUnsatisfiable extends JobLaunchError {
  override readonly code = 'SLIPWAY_JOB_UNSATISFIABLE';
  constructor(message: string) {
    super(message, true);
    this.name = 'JobUnsatisfiable';
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * Parses one line of job output: an event when it is a JSON object with a string `type` (and,
 * for the protocol's own types, the fields they need), otherwise null (the line is log text).
 */
export function parseEventLine(line: string): JobEvent | null {
  const text = line.trim();
  if (!text.startsWith('{')) return null;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return null;
  const e = obj as Record<string, unknown>;
  switch (e.type) {
    case 'progress':
      return isNum(e.step) && (e.loss === undefined || isNum(e.loss)) ? (e as unknown as ProgressEvent) : null;
    case 'checkpoint':
      return isNum(e.step) && isStr(e.path) ? (e as unknown as CheckpointEvent) : null;
    case 'resumed':
      return isNum(e.step) ? (e as unknown as ResumedEvent) : null;
    case 'artifact':
      return isStr(e.path) ? (e as unknown as ArtifactEvent) : null;
    default:
      return typeof e.type === 'string' ? (e as OtherEvent) : null;
  }
}

/** The artifact-store ref an event carries when the job stored the file itself; null otherwise. */
export function storedRef(e: StoredFile): { uri: string; sha256: string; size: number } | null {
  return isStr(e.uri) && typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256) ? { uri: e.uri, sha256: e.sha256, size: isNum(e.size) ? e.size : 0 } : null;
}

/** Spec params as command-line flags: `{ steps: 600, fp16: true, x: false }` → `--steps 600 --fp16`. */
export function paramsToFlags(params: Record<string, string | number | boolean>): string[] {
  const flags: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === false) continue;
    flags.push(`--${key}`);
    if (value !== true) flags.push(String(value));
  }
  return flags;
}
