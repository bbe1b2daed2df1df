// The evaluation's HTTP client: one undici Pool per endpoint (keep-alive, one connection per
// concurrent request), a deadline per attempt, and bounded retries with exponential back-off and
// jitter on 408/429/5xx and network errors. Timeouts are not retried: a slow answer is what the
// evaluation measures, and re-sending it would hide the tail and add load to a struggling server.
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { EvalErrorKind } from './types.js';

/** The chat-completions URL for an endpoint given as origin, `…/v1` or the full URL. */
export function chatUrl(endpoint: string): URL {
  const url = new URL(endpoint);
  const path = url.pathname.replace(/\/+$/, '');
  if (path.endsWith('/chat/completions')) return url;
  url.pathname = path.endsWith('/v1') ? `${path}/chat/completions` : `${path}/v1/chat/completions`;
  return url;
}

/** The server's Prometheus endpoint by convention: `<base>/metrics`, beside `/v1` and `/health`. */
export function defaultMetricsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  url.pathname = `${url.pathname.replace(/\/+$/, '').replace(/\/chat\/completions$/, '').replace(/\/v1$/, '')}/metrics`;
  url.search = '';
  return url.toString();
}

export interface ChatOutcome {
  /** HTTP status of the last attempt; null when none arrived. */
  status: number | null;
  /** The answer, when the last attempt returned 200 with a non-empty string. */
  content?: string;
  error?: EvalErrorKind;
  detail?: string;
  /** Duration of the last attempt. */
  latencyMs: number;
  attempts: number;
  /** Time from send to the first content token (a streamed answer), or to the whole answer (a server that does not stream). */
  ttftMs?: number;
  /** Gaps between consecutive content tokens of a streamed answer. */
  itlMs?: number[];
}

const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 5_000;
const RETRY_AFTER_CAP_MS = 30_000;

export class ChatClient {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly inflight = new Set<AbortController>();

  constructor(
    endpoint: string,
    private readonly opts: { connections: number; timeoutMs: number; maxRetries: number },
  ) {
    const url = chatUrl(endpoint);
    this.path = url.pathname + url.search;
    // undici's own phase timeouts sit past ours so that only our whole-attempt deadline fires.
    const slack = opts.timeoutMs + 1_000;
    this.pool = new Pool(url.origin, { connections: opts.connections, pipelining: 1, headersTimeout: slack, bodyTimeout: slack, keepAliveTimeout: 30_000 });
  }

  /** The first model id the server lists, for servers (vLLM) that require a model name. */
  async discoverModel(): Promise<string | undefined> {
    try {
      const res = await this.pool.request({ method: 'GET', path: this.path.replace(/chat\/completions.*$/, 'models'), signal: AbortSignal.timeout(5_000) });
      const json = (await res.body.json()) as { data?: Array<{ id?: unknown }> };
      const id = json.data?.[0]?.id;
      return typeof id === 'string' ? id : undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends one chat request, retrying what is transient; rejects only when `signal` aborts. */
  async complete(body: string, signal?: AbortSignal): Promise<ChatOutcome> {
    for (let attempt = 0; ; attempt++) {
      const { outcome, retryable, retryAfterMs } = await this.attempt(body, signal);
      if (!retryable || attempt >= this.opts.maxRetries) return { ...outcome, attempts: attempt + 1 };
      const window = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
      // Equal jitter: at least half the window, so retries spread out yet still back off.
      const wait = Math.max(window / 2 + Math.random() * (window / 2), Math.min(retryAfterMs ?? 0, RETRY_AFTER_CAP_MS));
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        throw signal?.reason ?? new Error('aborted');
      }
    }
  }

  /** Aborts every request in flight (used when the evaluation is cancelled). */
  abortAll(): void {
    for (const c of this.inflight) c.abort();
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  private async attempt(body: string, signal?: AbortSignal) {
    const controller = new AbortController();
    this.inflight.add(controller);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.opts.timeoutMs);
    const started = performance.now();
    const done = (outcome: Omit<ChatOutcome, 'attempts' | 'latencyMs'>, retryable = false, retryAfterMs?: number) => ({
      outcome: { ...outcome, latencyMs: performance.now() - started },
      retryable,
      retryAfterMs,
    });
    try {
      const res = await this.pool.request({ method: 'POST', path: this.path, headers: { 'content-type': 'application/json' }, body, signal: controller.signal });
      const status = res.statusCode;
      const contentType = res.headers['content-type'];
      if (status === 200 && String(contentType).startsWith('text/event-stream')) return done(await readEventStream(res.body, started));
      const text = await res.body.text();
      if (status === 200) return done({ ...parseAnswer(text, status, contentType), ttftMs: performance.now() - started });
      const detail = `HTTP ${status}: ${text.slice(0, 200)}`;
      const retryable = status >= 500 || status === 408 || status === 429;
      return done({ status, error: status >= 500 ? 'http_5xx' : 'http_4xx', detail }, retryable, retryAfter(res.headers['retry-after']));
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timedOut || isUndiciTimeout(err)) return done({ status: null, error: 'timeout', detail: `no answer within ${this.opts.timeoutMs} ms` });
      return done({ status: null, error: 'network', detail: describe(err) }, true);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(controller);
    }
  }
}

/**
 * A 200 whose body is not an OpenAI chat completion is `invalid_response`, and its detail shows
 * what came instead (`HTTP 200 text/html, body not JSON: <!doctype html>…`): a web page or a proxy's answer
 * means the endpoint is not a model server, which the caller reports rather than scores.
 */
function parseAnswer(text: string, status: number, contentType: string | string[] | undefined): Omit<ChatOutcome, 'attempts' | 'latencyMs'> {
  const what = (problem: string) => `HTTP ${status} ${String(contentType ?? 'without content-type').split(';')[0]}, ${problem}: ${snippet(text)}`;
  let content: unknown;
  try {
    content = (JSON.parse(text) as { choices?: Array<{ message?: { content?: unknown } }> } | null)?.choices?.[0]?.message?.content;
  } catch {
    return { status, error: 'invalid_response', detail: what('body not JSON') };
  }
  if (typeof content !== 'string') return { status, error: 'invalid_response', detail: what('no choices[0].message.content') };
  if (content.trim() === '') return { status, error: 'empty', detail: 'empty content' };
  return { status, content };
}

/**
 * Reads a streamed chat completion (server-sent events: `data: {chunk}` lines, then `data: [DONE]`),
 * timing each content token as it arrives: the first from `started` (TTFT), the rest from the one
 * before (inter-token latency), as vLLM's benchmark_serving measures them.
 */
const MAX_EVENT_CHARS = 16 * 1024 * 1024;

async function readEventStream(body: AsyncIterable<Buffer>, started: number): Promise<Omit<ChatOutcome, 'attempts' | 'latencyMs'>> {
  const decoder = new TextDecoder();
  const itlMs: number[] = [];
  let [buffered, content, ttftMs, last] = ['', '', undefined as number | undefined, 0];
  const invalid = (problem: string, line: string) => ({ status: 200, error: 'invalid_response' as const, detail: `HTTP 200 text/event-stream, ${problem}: ${snippet(line)}` });
  for await (const chunk of body) {
    const text = decoder.decode(chunk, { stream: true });
    // Split only when this chunk ends a line, so a long line costs linear time, not quadratic.
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      buffered += text;
      if (buffered.length > MAX_EVENT_CHARS) return invalid(`an event longer than ${MAX_EVENT_CHARS} characters`, buffered);
      continue;
    }
    const lines = (buffered + text.slice(0, end)).split('\n');
    buffered = text.slice(end + 1);
    for (const raw of lines) {
      const line = raw.trim();
      if (!line.startsWith('data:')) continue; // comments, event names, blank separators
      const data = line.slice(5).trim();
      if (data === '[DONE]') break;
      let delta: unknown;
      try {
        const event = JSON.parse(data) as { choices?: Array<{ delta?: { content?: unknown } }>; error?: { message?: unknown } };
        if (event.error) return invalid('error event', data);
        delta = event.choices?.[0]?.delta?.content;
      } catch {
        return invalid('event not JSON', data);
      }
      if (typeof delta !== 'string' || delta === '') continue; // role-only or usage chunks
      const now = performance.now();
      if (ttftMs === undefined) ttftMs = now - started;
      else itlMs.push(now - last);
      last = now;
      content += delta;
    }
  }
  if (ttftMs === undefined || content.trim() === '') return { status: 200, error: 'empty', detail: 'empty content' };
  return { status: 200, content, ttftMs, itlMs };
}

const snippet = (text: string) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat || '(empty body)';
};

function retryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

const isUndiciTimeout = (err: unknown) => {
  const code = (err as { code?: string }).code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
};

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  return [e.code ?? e.cause?.code, e.message].filter(Boolean).join(': ') || String(err);
}
