// The job backend contract. A training job is any command that speaks the job protocol on stdout:
// a line that is a JSON object with a string `type` is an event, any other line is log text.
// The local backend runs subprocesses; Slurm, Ray or Kubernetes backends implement the same
// interface later (launch = sbatch / submit / create Job, poll = squeue / status, ...).

/** What to run. `name` is idempotent: derived from the workflow id and stage/variant, so a retry
 * of the same activity addresses the same job (and a backend can find its leftovers). */
export interface JobSpec {
  name: string;
  command: string[];
  cwd: string;
  env: Record<string, string>;
  /** Checkpoint to resume from; the job sees it as `SLIPWAY_RESUME_FROM`. */
  resumeFrom?: string;
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

/** `lost`: the backend no longer knows the job's outcome (e.g. it was launched by another process). */
export type JobState = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'lost';

export interface JobStatus {
  state: JobState;
  /** Exit code; 128 + signal number when killed by a signal; null while running or when lost. */
  exitCode: number | null;
  signal: string | null;
}

export interface ProgressEvent { type: 'progress'; step: number; total_steps?: number; loss?: number }
export interface CheckpointEvent { type: 'checkpoint'; step: number; path: string }
export interface ResumedEvent { type: 'resumed'; step: number }
export interface ArtifactEvent { type: 'artifact'; path: string; metrics?: Record<string, unknown> }
/** An event of a type Slipway does not interpret; kept so callers can read job-specific events. */
export interface OtherEvent { type: string; [key: string]: unknown }
export type JobEvent = ProgressEvent | CheckpointEvent | ResumedEvent | ArtifactEvent | OtherEvent;

export interface JobBackend {
  /** Starts the job. A still-running earlier launch of the same name is stopped first. */
  launch(spec: JobSpec): Promise<JobHandle>;
  poll(handle: JobHandle): Promise<JobStatus>;
  /** Stops the job and everything it started; resolves once they are gone. */
  cancel(handle: JobHandle): Promise<void>;
  /** The job's log text (the last `tailLines` lines when given). */
  logs(handle: JobHandle, opts?: { tailLines?: number }): Promise<string>;
  /** Events of this launch in order, starting at index `from` (default 0), so callers can page. */
  events(handle: JobHandle, opts?: { from?: number }): Promise<JobEvent[]>;
}

/** A job could not be started. `permanent` when retrying cannot help (command or cwd missing). */
export class JobLaunchError extends Error {
  readonly code = 'SLIPWAY_JOB_LAUNCH_FAILED';
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'JobLaunchError';
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
