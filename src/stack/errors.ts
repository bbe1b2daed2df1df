// Errors of the embedded stack that the CLI maps to exit codes.
import { tail } from '../system/files.js';

/** The worker's settings from the environment are wrong (e.g. an MLflow password without a user). */
export class StackConfigError extends Error {
  readonly code = 'SLIPWAY_STACK_CONFIG';
}

/** A server of the stack exited while the stack was up; the message has its exit code and log tail. */
export class StackPartExitedError extends Error {
  readonly code = 'SLIPWAY_STACK_PART_EXITED';
  constructor(
    readonly part: string,
    readonly exitCode: number | null,
    logFile: string,
  ) {
    super(`the ${part} exited unexpectedly (exit code ${exitCode ?? 'none'}), so the stack is stopping. Last lines of ${logFile}:\n${tail(logFile, 10)}`);
  }
}
