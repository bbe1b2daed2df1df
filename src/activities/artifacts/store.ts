// The artifact store: how model files and checkpoints travel between hosts that share no disk,
// as `{ uri, sha256, size }` refs (small, serializable, safe in workflow history), never local paths.
import { SlipwayError, toApplicationFailure } from '../../errors.js';

/** A file in the artifact store: where it is and what its bytes must hash to (hex sha256). */
export interface ArtifactRef {
  uri: string;
  sha256: string;
  size: number;
}

export interface TransferOptions {
  /** Aborts a transfer in flight, e.g. the activity's `Context.current().cancellationSignal`. */
  signal?: AbortSignal;
}

export interface ArtifactStore {
  /** 'local' | 'mlflow' */
  readonly kind: string;
  /**
   * Stores a local file under a logical key such as `<release>/<variant>/model.pt`; returns its ref.
   * Idempotent: the same bytes under the same key give the same ref (a retried activity re-puts).
   * Streams: the file is never held in memory. Different bytes under a used key replace the old
   * ones, so an older ref to that key then fails with ArtifactDigestMismatch (never wrong bytes).
   */
  put(localPath: string, key: string, opts?: TransferOptions): Promise<ArtifactRef>;
  /**
   * A local path holding the verified bytes of `ref`: streamed to disk, sha256-verified, cached by
   * digest under the store's cache dir so a second fetch is free. The path is shared by every
   * fetch of that digest on this host: read it, copy it, never write to it.
   */
  fetch(ref: ArtifactRef, opts?: TransferOptions): Promise<string>;
  /**
   * What a job needs to store files itself under `<prefix>/` (the Python helper reads it):
   * `SLIPWAY_ARTIFACTS` (the store's base URI), `SLIPWAY_ARTIFACT_PREFIX`, and for an HTTP store its
   * URL and the job's own credential. Never the worker's credentials.
   */
  jobEnv?(prefix: string): Record<string, string>;
}

export type ArtifactErrorType =
  | 'ArtifactDigestMismatch'
  | 'ArtifactNotFound'
  | 'ArtifactStoreUnavailable'
  /** The store refused the request (HTTP 4xx other than 404/408/429, e.g. bad credentials). */
  | 'ArtifactStoreRejected'
  | 'InvalidArtifactUri';

/** Only a store that cannot be reached right now may pass on retry; wrong bytes stay wrong. */
const RETRYABLE_BY_DEFAULT: Record<ArtifactErrorType, boolean> = {
  ArtifactDigestMismatch: false,
  ArtifactNotFound: false,
  ArtifactStoreUnavailable: true,
  ArtifactStoreRejected: false,
  InvalidArtifactUri: false,
};

export interface ArtifactErrorDetails {
  uri?: string;
  key?: string;
  expectedSha256?: string;
  actualSha256?: string;
  expectedSize?: number;
  actualSize?: number;
  /** HTTP status, when the store answered. */
  status?: number;
}

/** An artifact failure with a stable `type` (branch on it, never on the message) and JSON details. */
export class ArtifactError extends SlipwayError {
  readonly code: string;
  readonly retryable: boolean;

  constructor(
    readonly type: ArtifactErrorType,
    message: string,
    override readonly details: ArtifactErrorDetails = {},
    opts: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = type;
    this.code = `SLIPWAY_${type.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
    this.retryable = opts.retryable ?? RETRYABLE_BY_DEFAULT[type];
  }
}

/** An ArtifactError as a typed ApplicationFailure (nonRetryable = !retryable); anything else passes. */
export const toActivityFailure = toApplicationFailure;
