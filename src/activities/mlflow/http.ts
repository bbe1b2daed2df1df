import type { Readable } from 'node:stream';
import { request } from 'undici';
import type { z } from 'zod';
import type { MlflowConfig } from './config.js';
import { MlflowError, mlflowErrorFromResponse, mlflowNetworkError } from './errors.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface CallOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

/**
 * The wire layer under MlflowClient: one request per call, auth headers, a per-request timeout,
 * MLflow's error bodies mapped to MlflowError, and every answer checked with zod. It retries
 * nothing: the activity's Temporal retry policy owns retries, and every caller is idempotent.
 */
export class MlflowHttp {
  readonly baseUrl: string;
  private readonly headers: Record<string, string> = {};
  private readonly timeoutMs: number;

  constructor(config: MlflowConfig) {
    this.baseUrl = config.trackingUri.replace(/\/+$/, '');
    this.timeoutMs = config.requestTimeoutMs ?? 30_000;
    // Same precedence as MLflow's Python client: username/password first, then the token.
    if (config.username !== undefined && config.password !== undefined) {
      this.headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}`;
    } else if (config.token) this.headers.authorization = `Bearer ${config.token}`;
  }

  /** Calls `/api/2.0/mlflow/<endpoint>` with a JSON body (or query for GET) and parses the answer. */
  async call<S extends z.ZodType>(method: Method, endpoint: string, schema: S, opts: CallOptions = {}): Promise<z.output<S>> {
    const bytes = await this.send(method, `/api/2.0/mlflow/${endpoint}`, `${method} ${endpoint}`, opts, 'application/json');
    return this.parse(`${method} ${endpoint}`, schema, bytes.length === 0 ? '{}' : bytes.toString('utf8'));
  }

  /** Uploads bytes through the proxied artifact API (`mlflow server --serve-artifacts`). */
  async putArtifact(artifactPath: string, body: Buffer | string | Readable): Promise<void> {
    const path = `/api/2.0/mlflow-artifacts/artifacts/${encodePath(artifactPath)}`;
    await this.send('PUT', path, `PUT mlflow-artifacts/${artifactPath}`, { body }, 'application/octet-stream');
  }

  /** Downloads one artifact file through the proxied artifact API. */
  async getArtifact(artifactPath: string): Promise<Buffer> {
    const path = `/api/2.0/mlflow-artifacts/artifacts/${encodePath(artifactPath)}`;
    return this.send('GET', path, `GET mlflow-artifacts/${artifactPath}`, {});
  }

  private async send(method: Method, path: string, endpoint: string, opts: CallOptions, contentType?: string): Promise<Buffer> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...this.headers };
    let body: string | Buffer | Readable | undefined;
    if (opts.body !== undefined) {
      body = contentType === 'application/json' ? JSON.stringify(opts.body) : (opts.body as string | Buffer | Readable);
      if (contentType) headers['content-type'] = contentType;
    }
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw mlflowNetworkError(this.baseUrl, endpoint, err);
    }
    let bytes: Buffer;
    try {
      bytes = Buffer.from(await res.body.arrayBuffer());
    } catch (err) {
      throw mlflowNetworkError(this.baseUrl, endpoint, err);
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw mlflowErrorFromResponse(this.baseUrl, endpoint, res.statusCode, bytes.toString('utf8'));
    }
    return bytes;
  }

  private parse<S extends z.ZodType>(endpoint: string, schema: S, text: string): z.output<S> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw invalidResponse(endpoint, 'not JSON', err);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw invalidResponse(endpoint, parsed.error.message, parsed.error);
    return parsed.data;
  }
}

function invalidResponse(endpoint: string, why: string, cause: unknown): MlflowError {
  // A server that answers in a shape we do not understand will not change its mind on retry.
  return new MlflowError(`MLflow ${endpoint} returned an unexpected response: ${why}`, {
    errorCode: 'INVALID_RESPONSE',
    retryable: false,
    type: 'MlflowError',
    endpoint,
    cause,
  });
}

function encodePath(p: string): string {
  return p.split('/').filter(Boolean).map(encodeURIComponent).join('/');
}
