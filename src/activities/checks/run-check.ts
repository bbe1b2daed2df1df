// One CI check (lint, unit tests, type check...) as a subprocess: logged to a file, killed on cancel.
import { activityInfo, CancelledFailure, Context, log } from '@temporalio/activity';
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ToolNotFoundError } from '../../system/tools.js';
import { expandCommand } from '../command.js';
import { tailFile } from '../jobs/log-reader.js';
import { killProcessGroup, processStartTime } from '../jobs/process-group.js';
import { childEnv } from '../../system/child-env.js';

export interface RunCheckInput {
  name: string;
  /** argv, no shell: `["npm", "run", "lint"]`; `{python}` is the worker's Python, as in train commands. */
  command: string[];
  /** Absolute working directory (the client resolves it against the spec's directory). */
  cwd: string;
}

export interface CheckResult {
  name: string;
  /** null when the command could not start or was ended by a signal. */
  exitCode: number | null;
  passed: boolean;
  /** The full output, on the worker that ran it; only the tail travels in history. */
  logPath: string;
  logTail: string;
  durationMs: number;
}

const TAIL_LINES = 40;
const HEARTBEAT_MS = 2000;

/** File-system-safe form of a workflow id (`checks:pipe:abc` → `checks_pipe_abc`). */
const safe = (s: string) => s.replace(/[^a-zA-Z0-9._-]/g, '_');

/** Builds the `runCheck` activity; logs go under `<stateDir>/checks/<workflow id>/<name>.log`. */
export function createCheckActivities(deps: { stateDir: string }) {
  return {
    /**
     * Runs one check command to its end and reports its exit code and log tail. A failing check is
     * a result (passed: false), not an error, so the workflow can run every check and report all.
     * Cancellation (noticed through heartbeats) kills the command's whole process group.
     */
    async runCheck(input: RunCheckInput): Promise<CheckResult> {
      const dir = path.join(deps.stateDir, 'checks', safe(activityInfo().workflowExecution?.workflowId ?? activityInfo().activityId));
      mkdirSync(dir, { recursive: true });
      const logPath = path.join(dir, `${safe(input.name)}.log`);
      const started = Date.now();
      const result = async (exitCode: number | null): Promise<CheckResult> => ({ name: input.name, exitCode, passed: exitCode === 0, logPath, logTail: await tailFile(logPath, TAIL_LINES), durationMs: Date.now() - started });
      let command: string[];
      try {
        command = expandCommand(input.command);
      } catch (err) {
        // No Python on this worker is the check's failure to report, like a command that cannot start.
        if (!(err instanceof ToolNotFoundError)) throw err;
        writeFileSync(logPath, `slipway: cannot run ${JSON.stringify(input.command[0])}: ${err.message}\n`);
        return result(null);
      }
      const fd = openSync(logPath, 'w');
      const [file, ...args] = command;
      // Detached: the check leads its own process group, so a cancel reaches what it spawned too.
      const child = spawn(file as string, args, { cwd: input.cwd, env: childEnv(), detached: true, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
        child.once('error', (error) => resolve({ code: null, error }));
        child.once('exit', (code) => resolve({ code }));
      });
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat({ check: input.name }), HEARTBEAT_MS);
      try {
        const { code, error } = await Promise.race([exited, ctx.cancelled]);
        if (error) appendFileSync(logPath, `\nslipway: could not start ${JSON.stringify(file)}: ${error.message}\n`);
        return await result(code);
      } catch (err) {
        if (err instanceof CancelledFailure && child.pid !== undefined) {
          log.info('check cancelled: stopping its process group', { check: input.name, pid: child.pid });
          await killProcessGroup(child.pid, { graceMs: 5000, startTime: processStartTime(child.pid), exited });
        }
        throw err;
      } finally {
        clearInterval(beat);
      }
    },
  };
}

export type CheckActivities = ReturnType<typeof createCheckActivities>;
