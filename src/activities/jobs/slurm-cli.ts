// The Slurm commands the slurm backend runs (sbatch, squeue, scontrol, scancel, sacct), and how to
// read their answers. Plain CLI output in fixed formats: stable across Slurm releases, unlike the
// JSON of `scontrol --json` or slurmrestd's versioned OpenAPI schemas.
import { execFile } from 'node:child_process';
import { constants } from 'node:os';
import type { JobStatus } from './backend.js';

export interface SlurmCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a Slurm client command; a non-zero exit is a result, not an error (the caller reads stderr). */
export function slurmCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<SlurmCommandResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const errno = (err as NodeJS.ErrnoException | null)?.code;
      if (typeof errno === 'string') return reject(err!); // ENOENT and the like: the command itself is missing
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** What `scontrol show job` says about one job. */
export interface SlurmJobRecord {
  id: string;
  name: string;
  state: string;
  reason: string;
  exitCode: number;
  exitSignal: number;
  stdout: string;
  submitTime: string;
  comment: string;
}

/** Parses the multi-line `scontrol show job <id>` record (StdOut, Comment and WorkDir take a whole line each). */
export function parseJobRecord(text: string): SlurmJobRecord | null {
  const id = /^JobId=(\d+)/m.exec(text)?.[1];
  if (!id) return null;
  const token = (key: string) => new RegExp(`(?:^|\\s)${key}=(\\S*)`, 'm').exec(text)?.[1] ?? '';
  const line = (key: string) => new RegExp(`^\\s*${key}=(.*)$`, 'm').exec(text)?.[1]?.trimEnd() ?? '';
  const [code, signal] = token('ExitCode').split(':').map(Number);
  return {
    id,
    name: /^JobId=\d+ JobName=(.*)$/m.exec(text)?.[1] ?? '',
    state: token('JobState'),
    reason: token('Reason'),
    exitCode: code ?? 0,
    exitSignal: signal ?? 0,
    stdout: line('StdOut'),
    submitTime: token('SubmitTime'),
    comment: line('Comment'),
  };
}

const signalNames = new Map(Object.entries(constants.signals).map(([name, num]) => [num as number, name]));

/** Slurm's job state and exit code as a JobStatus. A completing job still has processes: it counts as running. */
export function toJobStatus(state: string, reason: string, exitCode: number, exitSignal: number): JobStatus {
  const code = exitSignal > 0 ? 128 + exitSignal : exitCode;
  const signal = exitSignal > 0 ? (signalNames.get(exitSignal) ?? null) : null;
  const base = state.replace(/[+].*$/, ''); // sacct writes `CANCELLED by 0`, squeue flags as `+`
  switch (base.split(' ')[0]) {
    case 'PENDING':
    case 'REQUEUED':
    case 'REQUEUE_HOLD':
    case 'REQUEUE_FED':
    case 'RESV_DEL_HOLD':
      return { state: 'pending', ...(reason && reason !== 'None' ? { reason } : {}), exitCode: null, signal: null };
    case 'CONFIGURING':
    case 'RUNNING':
    case 'COMPLETING':
    case 'SUSPENDED':
    case 'STOPPED':
    case 'RESIZING':
    case 'SIGNALING':
    case 'STAGE_OUT':
      return { state: 'running', exitCode: null, signal: null };
    case 'COMPLETED':
      return { state: 'succeeded', exitCode: code, signal };
    case 'CANCELLED':
      return { state: 'cancelled', exitCode: code, signal };
    default:
      // TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, BOOT_FAIL, DEADLINE, PREEMPTED: the engine's word is the reason.
      return { state: 'failed', ...(base !== 'FAILED' ? { reason: base } : {}), exitCode: code, signal };
  }
}

/** sbatch refusals that no retry can fix: the cluster can never run the job as asked. */
const UNSATISFIABLE = [
  'Requested node configuration is not available',
  'More processors requested than permitted',
  'Invalid partition name specified',
  'Invalid generic resource',
  'Memory required by task is not available',
  'Requested time limit is invalid',
  'Node count specification invalid',
  'Invalid account',
  'Invalid qos',
];

export const isUnsatisfiable = (stderr: string): boolean => UNSATISFIABLE.some((m) => stderr.includes(m));

/** A value as one single-quoted shell word. */
export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
