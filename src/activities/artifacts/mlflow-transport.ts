// Streaming PUT/GET over MLflow's proxied artifact API (`mlflow server --serve-artifacts`).
// MlflowHttp buffers whole bodies, which a multi-GB checkpoint must never be; this moves bytes as streams.
import type { Readable } from 'node:stream';
import { request } from 'undici';
import type { MlflowConfig } from '../mlflow/config.js';
import { isRetryableStatus, mlflowErrorFromResponse, mlflowNetworkError } from '../mlflow/errors.js';
import { encodeSegments } from './names.js';
import { ArtifactError } from './store.js';

/** MLflow's Authorization header, with MlflowHttp's precedence: username/password (basic) first, then the token. */
export function mlflowAuthHeaders(config: MlflowConfig): Record<string, string> {
  if (config.username !== undefined && config.password !== undefined) {
    return { authorization: `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}` };
  }
  return config.token ? { authorization: `Bearer ${config.token}` } : {};
}

/** Failures of the connection itself (refused, reset, timed out, cut short): worth retrying later. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

export function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

/**
 * One request per call, no retries (the activity's retry policy owns them). The timeout is an
 * inactivity limit (no headers / no body bytes for that long), never a deadline on the whole
 * transfer, since a large file legitimately takes minutes.
 */
export class MlflowArtifactTransport {
  /** The server's URL without any credentials, for messages. */
  readonly server: string;
  private readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly idleTimeoutMs: number;

  constructor(config: MlflowConfig) {
    this.baseUrl = config.trackingUri.replace(/\/+$/, '');
    const shown = new URL(this.baseUrl);
    shown.username = '';
    shown.password = '';
    this.server = shown.href.replace(/\/+$/, '');
    this.headers = mlflowAuthHeaders(config);
    this.idleTimeoutMs = config.requestTimeoutMs ?? 30_000;
  }

  /** PUTs `size` bytes from `body` to the artifact path. */
  async upload(segments: string[], uri: string, body: Readable, size: number, signal?: AbortSignal): Promise<void> {
    const headers = { ...this.headers, 'content-type': 'application/octet-stream', 'content-length': String(size) };
    const res = await this.send('PUT', segments, uri, { headers, body, signal });
    await res.body.dump();
  }

  /** GETs the artifact; resolves once the server said 200, with the body still to be read. */
  async download(segments: string[], uri: string, signal?: AbortSignal): Promise<Readable> {
    return (await this.send('GET', segments, uri, { headers: { ...this.headers }, signal })).body;
  }

  private async send(method: 'PUT' | 'GET', segments: string[], uri: string, opts: { headers: Record<string, string>; body?: Readable; signal?: AbortSignal | undefined }) {
    const endpoint = `${method} mlflow-artifacts/${segments.join('/')}`;
    const url = `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${encodeSegments(segments)}`;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, { method, ...opts, headersTimeout: this.idleTimeoutMs, bodyTimeout: this.idleTimeoutMs });
    } catch (err) {
      throw this.failure(err, endpoint, uri);
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    const text = await res.body.text().catch(() => '');
    throw this.statusError(res.statusCode, text, endpoint, uri);
  }

  /** Maps an error with no HTTP answer; anything that is not a network failure passes through unchanged. */
  failure(err: unknown, endpoint: string, uri: string): unknown {
    if (!isNetworkError(err)) return err;
    const { message } = mlflowNetworkError(this.server, endpoint, err);
    return new ArtifactError('ArtifactStoreUnavailable', `artifact ${uri}: ${message}`, { uri }, { cause: err });
  }

  private statusError(status: number, body: string, endpoint: string, uri: string): ArtifactError {
    const { message } = mlflowErrorFromResponse(this.server, endpoint, status, body);
    if (status === 404) return new ArtifactError('ArtifactNotFound', `artifact ${uri} not found in MLflow at ${this.server}: ${message}`, { uri, status });
    const type = isRetryableStatus(status) ? 'ArtifactStoreUnavailable' : 'ArtifactStoreRejected';
    return new ArtifactError(type, `artifact ${uri}: ${message}`, { uri, status });
  }
}
