// How the slurm backend reads Slurm's answers: `scontrol show job` records (as Slurm 22.05 prints
// them) and the mapping of Slurm's states and exit codes to the job's status.
import { describe, expect, it } from 'vitest';
import { isUnsatisfiable, parseJobRecord, shellQuote, toJobStatus } from '../../src/activities/jobs/slurm-cli.js';

const RECORD = `JobId=4 JobName=abc
   UserId=root(0) GroupId=root(0) MCS_label=N/A
   JobState=FAILED Reason=NonZeroExitCode Dependency=(null)
   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=3:0
   SubmitTime=2026-11-26T05:32:56 EligibleTime=2026-11-26T05:32:56
   Command=(null)
   WorkDir=/tmp/a dir
   Comment=slipway:release:x/train 
   StdErr=/tmp/a dir/out-4.log
   StdIn=/dev/null
   StdOut=/tmp/a dir/out-4.log
   Power=
`;

describe('slurm CLI answers', () => {
  it('parses a scontrol show job record, paths with spaces included', () => {
    expect(parseJobRecord(RECORD)).toEqual({
      id: '4',
      name: 'abc',
      state: 'FAILED',
      reason: 'NonZeroExitCode',
      exitCode: 3,
      exitSignal: 0,
      stdout: '/tmp/a dir/out-4.log',
      submitTime: '2026-11-26T05:32:56',
      comment: 'slipway:release:x/train',
    });
    expect(parseJobRecord('slurm_load_jobs error: Invalid job id specified')).toBeNull();
  });

  it("maps Slurm's states: pending with its reason, completing still running, signals as 128 + n", () => {
    expect(toJobStatus('PENDING', 'Resources', 0, 0)).toEqual({ state: 'pending', reason: 'Resources', exitCode: null, signal: null });
    expect(toJobStatus('PENDING', 'None', 0, 0)).toEqual({ state: 'pending', exitCode: null, signal: null });
    expect(toJobStatus('COMPLETING', 'None', 0, 0).state).toBe('running');
    expect(toJobStatus('COMPLETED', 'None', 0, 0)).toEqual({ state: 'succeeded', exitCode: 0, signal: null });
    expect(toJobStatus('FAILED', 'NonZeroExitCode', 3, 0)).toEqual({ state: 'failed', exitCode: 3, signal: null });
    expect(toJobStatus('CANCELLED by 0', '', 0, 15)).toEqual({ state: 'cancelled', exitCode: 143, signal: 'SIGTERM' });
    expect(toJobStatus('TIMEOUT', 'TimeLimit', 0, 15)).toEqual({ state: 'failed', reason: 'TIMEOUT', exitCode: 143, signal: 'SIGTERM' });
    expect(toJobStatus('OUT_OF_MEMORY', 'OutOfMemory', 0, 9)).toMatchObject({ state: 'failed', reason: 'OUT_OF_MEMORY', exitCode: 137 });
  });

  it("tells sbatch's permanent refusals from passing trouble", () => {
    expect(isUnsatisfiable('sbatch: error: Batch job submission failed: Requested node configuration is not available')).toBe(true);
    expect(isUnsatisfiable('sbatch: error: Batch job submission failed: Invalid partition name specified')).toBe(true);
    expect(isUnsatisfiable('sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)')).toBe(false);
  });

  it('quotes shell words', () => {
    expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
  });
});
