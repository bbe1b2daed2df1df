// The evaluation's HTTP client: one undici Pool per endpoint (keep-alive, one connection per
// concurrent request), a deadline per attempt, and bounded retries with exponential back-off and
// jitter on 408/429/5xx and network errors. Timeouts are not retried: a slow answer is what the
// evaluation measures, and re-sending it would hide the tail and add load to a struggling server.
import { setTimeout as sleep } from 'node:timers/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
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
  /** The attempts in flight, oldest first (a Set keeps insertion order): to cancel them all, and for their deadlines. */
  private readonly inflight = new Set<AttemptHandler>();
  /**
   * One timer for every attempt's deadline, rather than one per attempt: all attempts have the same
   * timeout, so the oldest in flight is always the next to expire. Armed for it; when it fires,
   * every attempt past its deadline is aborted and the timer is armed for the next oldest.
   */
  private deadlineTimer: NodeJS.Timeout | undefined;

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
      if (!retryable || attempt >= this.opts.maxRetries) {
        outcome.attempts = attempt + 1;
        return outcome;
      }
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
    for (const attempt of this.inflight) attempt.abort(new Error('evaluation aborted'));
  }

  async close(): Promise<void> {
    clearTimeout(this.deadlineTimer);
    await this.pool.destroy();
  }

  /**
   * One attempt through undici's handler API rather than `request()`: no body stream and no
   * AbortSignal per request, which roughly halves the client's CPU per answer, so that the
   * harness measures the server rather than itself at high request rates.
   */
  private attempt(body: string, signal?: AbortSignal): Promise<AttemptHandler> {
    return new Promise<AttemptHandler>((resolve, reject) => {
      const handler = new AttemptHandler(this.opts.timeoutMs, (settled) => {
        this.inflight.delete(settled);
        if (signal?.aborted) reject(signal.reason);
        else resolve(settled);
      });
      this.inflight.add(handler);
      this.armDeadline();
      this.pool.dispatch({ method: 'POST', path: this.path, headers: JSON_CONTENT, body }, handler);
    });
  }

  private armDeadline(): void {
    if (this.deadlineTimer) return;
    for (const attempt of this.inflight) {
      if (attempt.timedOut) continue; // aborted, its error not yet reported
      this.deadlineTimer = setTimeout(() => this.expire(), attempt.started + this.opts.timeoutMs - performance.now());
      return;
    }
  }

  private expire(): void {
    this.deadlineTimer = undefined;
    const now = performance.now();
    for (const attempt of this.inflight) {
      if (attempt.started + this.opts.timeoutMs > now) break;
      if (!attempt.timedOut) attempt.timeOut();
    }
    this.armDeadline();
  }
}

const JSON_CONTENT = { 'content-type': 'application/json' };

/**
 * One attempt's state, and undici's handler for it. A class rather than a closure per callback:
 * at tens of thousands of answers a second the harness's own allocations are a good part of its cost.
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  /** Set once the attempt is over (answered, failed or timed out). */
  outcome!: ChatOutcome;
  retryable = false;
  retryAfterMs: number | undefined;
  readonly started = performance.now();
  timedOut = false;
  private controller: Dispatcher.DispatchController | undefined;
  private abortReason: Error | undefined;
  private settled = false;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private chunks: Buffer[] = [];
  private events: EventStreamReader | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly done: (attempt: AttemptHandler) => void,
  ) {}

  /** Its deadline passed (the client's timer): aborted, and reported as a timeout. */
  timeOut(): void {
    this.timedOut = true;
    this.abort(new Error('deadline'));
  }

  abort(reason: Error): void {
    this.abortReason ??= reason;
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    this.status = status;
    this.headers = headers;
    if (status === 200 && String(headers['content-type']).startsWith('text/event-stream')) this.events = new EventStreamReader(this.started);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.events) return void this.chunks.push(chunk);
    const early = this.events.push(chunk);
    if (early) {
      this.settle(early);
      controller.abort(new Error('stream refused'));
    }
  }

  onResponseEnd(): void {
    if (this.events) return this.settle(this.events.end());
    const text = this.chunks.length === 1 ? (this.chunks[0] as Buffer).toString('utf8') : Buffer.concat(this.chunks).toString('utf8');
    const { status, headers } = this;
    if (status === 200) {
      const answer = parseAnswer(text, status, headers['content-type']);
      answer.ttftMs = performance.now() - this.started;
      return this.settle(answer);
    }
    const detail = `HTTP ${status}: ${text.slice(0, 200)}`;
    const retryable = status >= 500 || status === 408 || status === 429;
    this.settle({ status, error: status >= 500 ? 'http_5xx' : 'http_4xx', detail }, retryable, retryAfter(headers['retry-after']));
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.timedOut || isUndiciTimeout(err)) return this.settle({ status: null, error: 'timeout', detail: `no answer within ${this.timeoutMs} ms` });
    this.settle({ status: null, error: 'network', detail: describe(err) }, true);
  }

  /** Only the first call counts: an attempt refused mid-stream is aborted, and undici then reports that abort. */
  private settle(answer: Answer, retryable = false, retryAfterMs?: number): void {
    if (this.settled) return;
    this.settled = true;
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
    const outcome = answer as ChatOutcome;
    outcome.latencyMs = performance.now() - this.started;
    outcome.attempts = 1; // counted by `complete`
    this.outcome = outcome;
    this.done(this);
  }
}

/** An attempt's outcome before its timing and attempt count are filled in. */
type Answer = Omit<ChatOutcome, 'attempts' | 'latencyMs'>;

/**
 * A 200 whose body is not an OpenAI chat completion is `invalid_response`, and its detail shows
 * what came instead (`HTTP 200 text/html, body not JSON: <!doctype html>…`): a web page or a proxy's answer
 * means the endpoint is not a model server, which the caller reports rather than scores.
 */
function parseAnswer(text: string, status: number, contentType: string | string[] | undefined): Answer {
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

const MAX_EVENT_CHARS = 16 * 1024 * 1024;

/**
 * Reads a streamed chat completion (server-sent events: `data: {chunk}` lines, then `data: [DONE]`),
 * timing each content token as it arrives: the first from `started` (TTFT), the rest from the one
 * before (inter-token latency), as vLLM's benchmark_serving measures them.
 * Fed chunk by chunk as they arrive; `push` returns an outcome only when it refuses the stream early.
 */
class EventStreamReader {
  private readonly decoder = new TextDecoder();
  private readonly itlMs: number[] = [];
  private buffered = '';
  private content = '';
  private ttftMs: number | undefined;
  private last = 0;
  private done = false;

  constructor(private readonly started: number) {}

  push(chunk: Buffer): Answer | undefined {
    if (this.done) return undefined;
    const text = this.decoder.decode(chunk, { stream: true });
    // Split only when this chunk ends a line, so a long line costs linear time, not quadratic.
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.buffered += text;
      return this.buffered.length > MAX_EVENT_CHARS ? invalidEvent(`an event longer than ${MAX_EVENT_CHARS} characters`, this.buffered) : undefined;
    }
    const lines = (this.buffered + text.slice(0, end)).split('\n');
    this.buffered = text.slice(end + 1);
    for (const raw of lines) {
      const line = raw.trim();
      if (!line.startsWith('data:')) continue; // comments, event names, blank separators
      const data = line.slice(5).trim();
      if (data === '[DONE]') {
        this.done = true;
        break;
      }
      let delta: unknown;
      try {
        const event = JSON.parse(data) as { choices?: Array<{ delta?: { content?: unknown } }>; error?: { message?: unknown } };
        if (event.error) return invalidEvent('error event', data);
        delta = event.choices?.[0]?.delta?.content;
      } catch {
        return invalidEvent('event not JSON', data);
      }
      if (typeof delta !== 'string' || delta === '') continue; // role-only or usage chunks
      const now = performance.now();
      if (this.ttftMs === undefined) this.ttftMs = now - this.started;
      else this.itlMs.push(now - this.last);
      this.last = now;
      this.content += delta;
    }
    return undefined;
  }

  end(): Answer {
    if (this.ttftMs === undefined || this.content.trim() === '') return { status: 200, error: 'empty', detail: 'empty content' };
    return { status: 200, content: this.content, ttftMs: this.ttftMs, itlMs: this.itlMs };
  }
}

const invalidEvent = (problem: string, line: string) => ({ status: 200, error: 'invalid_response' as const, detail: `HTTP 200 text/event-stream, ${problem}: ${snippet(line)}` });

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
