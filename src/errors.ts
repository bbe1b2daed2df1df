// Errors shared by the CLI, the worker and the dev stack.
import { ApplicationFailure } from '@temporalio/common';

/** Raised when the Temporal frontend cannot be reached; says how to start one. */
export class TemporalUnreachableError extends Error {
  readonly code = 'SLIPWAY_TEMPORAL_UNREACHABLE';
  constructor(address: string, cause: unknown) {
    super(
      `cannot reach Temporal at ${address} (${cause instanceof Error ? cause.message : String(cause)}). ` +
        'Start the local stack with `slipway dev`, or point at your cluster with --address / TEMPORAL_ADDRESS.',
    );
  }
}

/**
 * The one base of Slipway's typed errors: `type` is the failure type the workflow branches on
 * (never the message), `retryable` says whether trying the same thing again can help.
 */
export abstract class SlipwayError extends Error {
  abstract readonly type: string;
  abstract readonly retryable: boolean;
  readonly details: object = {};
}

/** At the activity edge: a SlipwayError becomes an ApplicationFailure of the same type; others pass. */
export function toApplicationFailure(err: unknown): unknown {
  if (!(err instanceof SlipwayError)) return err;
  return ApplicationFailure.create({ type: err.type, message: err.message, nonRetryable: !err.retryable, details: [err.details] });
}

/** Runs `fn`, converting a SlipwayError it throws (see toApplicationFailure). */
export async function asActivityFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toApplicationFailure(err);
  }
}
