import { ApplicationFailure } from '@temporalio/common';

/** The failure types Slipway's MLflow activities throw; workflows branch on these, never on text. */
export type MlflowFailureType = 'MlflowError' | 'MlflowUnavailable' | 'MlflowAuthFailed';

export interface MlflowErrorInit {
  /** HTTP status; undefined when no response came back (refused, reset, timed out). */
  status?: number;
  /** MLflow's `error_code` (e.g. RESOURCE_DOES_NOT_EXIST), or one of ours (UNAVAILABLE, UNAUTHENTICATED, ...). */
  errorCode: string;
  retryable: boolean;
  type: MlflowFailureType;
  /** What was called, e.g. `POST runs/log-batch`; never carries credentials. */
  endpoint: string;
  cause?: unknown;
}

/** One failed MLflow call, with MLflow's own error code and whether trying again can help. */
export class MlflowError extends Error {
  readonly code = 'SLIPWAY_MLFLOW_ERROR';
  readonly status: number | undefined;
  readonly errorCode: string;
  readonly retryable: boolean;
  readonly type: MlflowFailureType;
  readonly endpoint: string;

  constructor(message: string, init: MlflowErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'MlflowError';
    this.status = init.status;
    this.errorCode = init.errorCode;
    this.retryable = init.retryable;
    this.type = init.type;
    this.endpoint = init.endpoint;
  }
}

/** The project's rule: a 4xx is the caller's fault and final, except 408 and 429; a 5xx may pass. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

const AUTH_HINT =
  'Check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic auth) or MLFLOW_TRACKING_TOKEN ' +
  "(bearer token) in the worker's environment.";

/** Builds the error for a non-2xx answer; the body may be MLflow JSON, FastAPI JSON or plain text. */
export function mlflowErrorFromResponse(trackingUri: string, endpoint: string, status: number, body: string): MlflowError {
  let errorCode = `HTTP_${status}`;
  let detail = body.trim().slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { error_code?: unknown; message?: unknown; detail?: unknown };
    if (typeof parsed.error_code === 'string') errorCode = parsed.error_code;
    if (typeof parsed.message === 'string') detail = parsed.message;
    else if (typeof parsed.detail === 'string') detail = parsed.detail;
  } catch {
    // Not JSON (the basic-auth app answers 401/403 in text/html): keep the text.
  }
  if (status === 401 || status === 403) {
    const what = status === 401 ? 'rejected the credentials' : 'denied permission';
    return new MlflowError(`MLflow at ${trackingUri} ${what} for ${endpoint} (HTTP ${status}). ${AUTH_HINT}`, {
      status,
      errorCode: status === 401 ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED',
      retryable: false,
      type: 'MlflowAuthFailed',
      endpoint,
    });
  }
  const retryable = isRetryableStatus(status);
  const unavailable = status === 502 || status === 503 || status === 504;
  return new MlflowError(`MLflow ${endpoint} failed with HTTP ${status} ${errorCode}: ${detail}`, {
    status,
    errorCode,
    retryable,
    type: unavailable ? 'MlflowUnavailable' : 'MlflowError',
    endpoint,
  });
}

/** Builds the error for a call that got no HTTP answer at all: always worth retrying later. */
export function mlflowNetworkError(trackingUri: string, endpoint: string, cause: unknown): MlflowError {
  const reason = cause instanceof Error ? `${(cause as { code?: string }).code ?? cause.name}: ${cause.message}` : String(cause);
  return new MlflowError(`MLflow at ${trackingUri} is unreachable (${endpoint}): ${reason}. Is the MLflow server up?`, {
    errorCode: 'UNAVAILABLE',
    retryable: true,
    type: 'MlflowUnavailable',
    endpoint,
    cause,
  });
}

/**
 * Converts anything an MLflow activity threw into an ApplicationFailure whose `type` and
 * `nonRetryable` follow the rule above, so the workflow's retry policy (bounded by the spec's
 * `mlflow.max_unavailable`) retries only what can pass. Failures that are not MlflowErrors
 * (bugs, bad local files) pass through unchanged for Temporal's default handling.
 */
export function toApplicationFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure || !(err instanceof MlflowError)) return err;
  return ApplicationFailure.create({
    type: err.type,
    message: err.message,
    nonRetryable: !err.retryable,
    details: [{ status: err.status ?? null, errorCode: err.errorCode, endpoint: err.endpoint }],
    cause: err,
  });
}

/** Runs `fn`, rethrowing its MLflow errors as typed ApplicationFailures. */
export async function withMlflowFailures<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toApplicationFailure(err);
  }
}
