import { WorkflowNotFoundError } from '@temporalio/client';
import { CodecConfigError } from '../codec/keys.js';
import { StackConfigError, StackPartExitedError } from '../stack/errors.js';
import { PortInUseError } from '../stack/process.js';
import { ToolNotFoundError } from '../system/tools.js';
import { TemporalUnreachableError } from './connection.js';
import { RequestRefusedError } from './slipway-client.js';
import { SpecError } from './spec-file.js';

/** Exit codes: what a script calling `slipway` can branch on. */
export const EXIT = {
  ok: 0,
  /** The release or check did not pass: gate failed, rejected, rolled back, failed, cancelled. */
  failed: 1,
  /** Bad input: an invalid spec, flag or file. */
  usage: 2,
  /** No such release or schedule. */
  notFound: 3,
  /** The workflow refused the request (not an approver, nothing to roll back...). */
  refused: 4,
  /** The environment is not ready: Temporal unreachable, a tool missing, a port taken, a server died. */
  environment: 5,
} as const;

/** An error the CLI prints as is (no stack) and exits with `exitCode`. */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Maps known errors to a message and an exit code; anything else is a bug and shows its stack. */
export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof ExitError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof SpecError || err instanceof StackConfigError || err instanceof CodecConfigError) return { message: err.message, exitCode: EXIT.usage };
  if (err instanceof RequestRefusedError) return { message: `refused: ${err.message}`, exitCode: EXIT.refused };
  if (err instanceof WorkflowNotFoundError) return { message: `not found: ${err.message}. List releases with \`slipway list\`.`, exitCode: EXIT.notFound };
  if (err instanceof TemporalUnreachableError || err instanceof ToolNotFoundError || err instanceof PortInUseError || err instanceof StackPartExitedError) {
    return { message: err.message, exitCode: EXIT.environment };
  }
  return { message: err instanceof Error ? (err.stack ?? err.message) : String(err), exitCode: EXIT.failed };
}
