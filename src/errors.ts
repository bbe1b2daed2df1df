// Errors shared by the CLI, the worker and the dev stack.

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
