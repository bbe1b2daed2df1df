// TEST DOUBLE for a model server (vLLM or the tiny-llm example): a real HTTP server on loopback that
// speaks the OpenAI chat API, answers deterministically, and can be told to be slow, fail or go empty.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeModelBehaviour {
  /** Answers by prompt; other prompts get `echo: <prompt>`. */
  answers: Record<string, string>;
  delayMs: number;
  /** The next `failCount` chat requests get `failStatus`. */
  failCount: number;
  failStatus: number;
  /** Every request fails with 500 when true (for monitor breach tests). */
  alwaysFail: boolean;
  emptyContent: boolean;
  /** These prompts always get HTTP 500 (a model that breaks on the smoke test's prompt only). */
  failPrompts: string[];
  /** Streamed answers (`"stream": true`): the pause before each token after the first (one token per character). */
  tokenDelayMs: number;
  /** These prompts are answered after `slowMs` (a latency regression on some traffic). */
  slowPrompts: string[];
  slowMs: number;
}

export interface FakeModelServer {
  url: string;
  port: number;
  behaviour: FakeModelBehaviour;
  /** Chat requests received, by response status. */
  counts: Map<number, number>;
  close(): Promise<void>;
}

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export async function startFakeModelServer(init: Partial<FakeModelBehaviour> = {}, port = 0): Promise<FakeModelServer> {
  const behaviour: FakeModelBehaviour = { answers: {}, delayMs: 0, failCount: 0, failStatus: 500, alwaysFail: false, emptyContent: false, failPrompts: [], tokenDelayMs: 0, slowPrompts: [], slowMs: 0, ...init };
  const counts = new Map<number, number>();
  const histogram = new Array<number>(BUCKETS.length).fill(0);
  let sum = 0;
  let total = 0;

  // Set by the local deploy target: answers name the version that served them, as the old router's header did.
  const version = process.env.SLIPWAY_VERSION;
  const send = (res: http.ServerResponse, status: number, body: unknown, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type, ...(version ? { 'x-slipway-version': version } : {}) });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  const chat = async (body: string, res: http.ServerResponse) => {
    const started = process.hrtime.bigint();
    let status = 200;
    let payload: unknown;
    const request = JSON.parse(body || '{}') as { model?: string; stream?: boolean; messages?: Array<{ role: string; content: string }> };
    const prompt = request.messages?.filter((m) => m.role === 'user').at(-1)?.content;
    if (behaviour.delayMs > 0) await new Promise((r) => setTimeout(r, behaviour.delayMs));
    if (prompt && behaviour.slowPrompts.includes(prompt)) await new Promise((r) => setTimeout(r, behaviour.slowMs));
    if (!prompt) {
      status = 400;
      payload = { error: { message: 'messages must include a user message', type: 'invalid_request_error' } };
    } else if (behaviour.alwaysFail || behaviour.failCount > 0 || behaviour.failPrompts.includes(prompt)) {
      if (behaviour.failCount > 0) behaviour.failCount -= 1;
      status = behaviour.failStatus;
      payload = { error: { message: 'injected failure', type: 'server_error' } };
    } else {
      const content = behaviour.emptyContent ? '' : (behaviour.answers[prompt] ?? `echo: ${prompt}`);
      payload = {
        id: `chatcmpl-${total}`,
        object: 'chat.completion',
        created: 0,
        model: request.model ?? 'fake',
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: prompt.length, completion_tokens: content.length, total_tokens: prompt.length + content.length },
      };
    }
    if (status === 200 && request.stream) {
      // Server-sent events as vLLM sends them: a role chunk, one chunk per token, a finish chunk, [DONE].
      const content = behaviour.emptyContent ? '' : (behaviour.answers[prompt!] ?? `echo: ${prompt}`);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event = (delta: object, finish: string | null = null) =>
        res.write(`data: ${JSON.stringify({ id: `chatcmpl-${total}`, object: 'chat.completion.chunk', model: request.model ?? 'fake', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
      event({ role: 'assistant' });
      for (const [i, token] of [...content].entries()) {
        if (i > 0 && behaviour.tokenDelayMs > 0) await new Promise((r) => setTimeout(r, behaviour.tokenDelayMs));
        event({ content: token });
      }
      event({}, 'stop');
      res.end('data: [DONE]\n\n');
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    counts.set(status, (counts.get(status) ?? 0) + 1);
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) histogram[i] = (histogram[i] ?? 0) + 1;
    });
    sum += seconds;
    total += 1;
    if (!res.headersSent) send(res, status, payload);
  };

  const metrics = () => {
    const lines = ['# TYPE slipway_model_requests_total counter'];
    for (const [status, n] of counts) lines.push(`slipway_model_requests_total{status="${status}"} ${n}`);
    lines.push('# TYPE slipway_model_request_duration_seconds histogram');
    BUCKETS.forEach((b, i) => lines.push(`slipway_model_request_duration_seconds_bucket{le="${b}"} ${histogram[i]}`));
    lines.push(`slipway_model_request_duration_seconds_bucket{le="+Inf"} ${total}`);
    lines.push(`slipway_model_request_duration_seconds_sum ${sum}`, `slipway_model_request_duration_seconds_count ${total}`);
    lines.push(`process_resident_memory_bytes ${process.memoryUsage().rss}`);
    return lines.join('\n') + '\n';
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/chat/completions') {
        chat(body, res).catch(() => send(res, 400, { error: { message: 'invalid JSON', type: 'invalid_request_error' } }));
      } else if (req.url === '/v1/models') send(res, 200, { object: 'list', data: [{ id: 'fake', object: 'model' }] });
      else if (req.url === '/health') send(res, 200, { status: 'ok' });
      else if (req.url === '/metrics') send(res, 200, metrics(), 'text/plain; version=0.0.4');
      else send(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    behaviour,
    counts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
