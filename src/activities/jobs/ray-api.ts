// A small client for the Ray Jobs REST API (the dashboard's /api/jobs/) and the node list, over undici.
// Ray's own SDK speaks the same endpoints; RAY_ADDRESS names the dashboard (http://host:port).
import { request } from 'undici';

export type RayJobStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'STOPPED';

export interface RayJobInfo {
  submission_id: string;
  status: RayJobStatus;
  message: string | null;
  error_type: string | null;
  /** ms since the epoch: when the job was submitted. */
  start_time: number | null;
  end_time: number | null;
  metadata: Record<string, string> | null;
  driver_exit_code: number | null;
}

export interface RaySubmission {
  submission_id: string;
  entrypoint: string;
  entrypoint_num_cpus?: number;
  entrypoint_num_gpus?: number;
  /** Bytes. */
  entrypoint_memory?: number;
  runtime_env?: { env_vars?: Record<string, string>; working_dir?: string };
  metadata?: Record<string, string>;
}

/** Largest amount of each resource on one node: what a single job's entrypoint can ever get. */
export interface NodeCapacity {
  cpus: number;
  gpus: number;
  memoryBytes: number;
}

/** An answer from Ray that is not what the call needed; `retryable` for 5xx and unreachable clusters. */
export class RayApiError extends Error {
  readonly code = 'SLIPWAY_RAY_API';
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'RayApiError';
  }
}

export class RayJobsClient {
  constructor(
    readonly address: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async submit(job: RaySubmission): Promise<'submitted' | 'exists'> {
    const res = await this.call('POST', '/api/jobs/', job, [200, 500]);
    // Ray answers a duplicate submission id with a 500 whose text says so.
    if (res.status === 500) {
      if (res.text.includes('already exists')) return 'exists';
      throw new RayApiError(`Ray refused job ${job.submission_id}: ${lastLine(res.text)}`, 500, true);
    }
    return 'submitted';
  }

  async get(id: string): Promise<RayJobInfo | null> {
    const res = await this.call('GET', `/api/jobs/${encodeURIComponent(id)}`, undefined, [200, 404]);
    return res.status === 404 ? null : (JSON.parse(res.text) as RayJobInfo);
  }

  async list(): Promise<RayJobInfo[]> {
    const res = await this.call('GET', '/api/jobs/', undefined, [200]);
    return (JSON.parse(res.text) as RayJobInfo[]).filter((j) => j.submission_id);
  }

  async logs(id: string): Promise<string> {
    const res = await this.call('GET', `/api/jobs/${encodeURIComponent(id)}/logs`, undefined, [200, 404]);
    return res.status === 404 ? '' : ((JSON.parse(res.text) as { logs?: string }).logs ?? '');
  }

  async stop(id: string): Promise<void> {
    await this.call('POST', `/api/jobs/${encodeURIComponent(id)}/stop`, undefined, [200, 404]);
  }

  async capacity(): Promise<NodeCapacity> {
    const res = await this.call('GET', '/api/v0/nodes?detail=1', undefined, [200]);
    const body = JSON.parse(res.text) as { data?: { result?: { result?: Array<{ state?: string; resources_total?: Record<string, number> }> } } };
    const nodes = (body.data?.result?.result ?? []).filter((n) => n.state === 'ALIVE').map((n) => n.resources_total ?? {});
    const most = (key: string) => Math.max(0, ...nodes.map((r) => r[key] ?? 0));
    return { cpus: most('CPU'), gpus: most('GPU'), memoryBytes: most('memory') };
  }

  private async call(method: 'GET' | 'POST', route: string, body: unknown, expect: number[]): Promise<{ status: number; text: string }> {
    let res;
    try {
      res = await request(`${this.address}${route}`, {
        method,
        headers: { ...this.headers, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        headersTimeout: 30_000,
        bodyTimeout: 60_000,
      });
    } catch (err) {
      throw new RayApiError(`Ray cluster at ${this.address} unreachable (${method} ${route}): ${(err as Error).message}`, null, true);
    }
    const text = await res.body.text();
    if (!expect.includes(res.statusCode)) {
      const retryable = res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429;
      throw new RayApiError(`Ray ${method} ${route} answered ${res.statusCode}: ${lastLine(text)}`, res.statusCode, retryable);
    }
    return { status: res.statusCode, text };
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((l) => l.trim());
  return (lines.at(-1) ?? '').slice(0, 500);
}
