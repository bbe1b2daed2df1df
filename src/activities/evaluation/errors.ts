// Typed errors of the evaluation code, each with a stable `code` the activities and the CLI branch on.

export type EvalErrorCode = 'DATASET_INVALID' | 'INVALID_OPTIONS' | 'ENDPOINT_UNREACHABLE' | 'INVALID_RESPONSES';

export class EvalError extends Error {
  override readonly name = 'EvalError';
  constructor(
    readonly code: EvalErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A dataset row that cannot be evaluated; the message starts with `file:line:`. */
export class DatasetError extends EvalError {
  constructor(
    readonly file: string,
    readonly line: number,
    reason: string,
  ) {
    super('DATASET_INVALID', `${file}:${line}: ${reason}`);
  }
}
