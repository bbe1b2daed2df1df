// Fuzzed model-server answers against the evaluation's HTTP client: not JSON, no `choices`, wrong
// statuses, 10 MB bodies, broken event streams, answers slower than the deadline, connections reset
// before or during the answer. Each request ends in an answer or a typed error kind; none throws,
// hangs past its deadline, or takes the client down. The server is a real one on loopback.
import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/activities/evaluation/http.js';
import type { EvalErrorKind } from '../../src/activities/evaluation/types.js';
import { fuzzParams } from './support.js';

interface Behaviour {
  status: number;
  type: string | null;
  body: string;
  /** normal; slow: past the client's deadline; reset-early: socket destroyed before any byte; reset-mid: after half the body. */
  mode: 'normal' | 'slow' | 'reset-early' | 'reset-mid';
}

const DEADLINE_MS = 1_000;
const chatAnswer = (content: unknown) => JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] });
const TEN_MB = 'x'.repeat(10 * 1024 * 1024);

const body = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 2 })).map(chatAnswer),
  fc.array(fc.oneof(fc.string().map((c) => `data: ${JSON.stringify({ choices: [{ delta: { content: c } }] })}`), fc.string({ maxLength: 40 }), fc.constant('data: [DONE]')), { maxLength: 6 }).map((ls) => ls.join('\n\n')),
  fc.constant(TEN_MB),
  fc.constant(chatAnswer(TEN_MB)),
);

const behaviour: fc.Arbitrary<Behaviour> = fc.record({
  status: fc.constantFrom(200, 200, 200, 201, 204, 302, 400, 404, 408, 429, 500, 503),
  type: fc.constantFrom('application/json', 'text/html', 'text/event-stream', 'text/plain', null),
  body,
  mode: fc.constantFrom('normal', 'normal', 'normal', 'slow', 'reset-early', 'reset-mid'),
});

const KINDS: EvalErrorKind[] = ['http_5xx', 'http_4xx', 'timeout', 'network', 'empty', 'invalid_response'];

let current: Behaviour;
let server: http.Server;
let url: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const b = current;
      if (b.mode === 'reset-early') return req.socket.destroy();
      const send = () => {
        if (b.status === 204) return res.writeHead(204).end(); // a 204 has no body by definition
        res.writeHead(b.status, b.type ? { 'content-type': b.type } : {});
        if (b.mode === 'reset-mid') {
          res.write(b.body.slice(0, Math.floor(b.body.length / 2)));
          setTimeout(() => req.socket.destroy(), 5);
        } else res.end(b.body);
      };
      if (b.mode === 'slow') setTimeout(send, DEADLINE_MS * 2);
      else send();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

describe('fuzzed model answers', () => {
  it('every request ends in an answer or a typed error kind, within its deadline and retries', async () => {
    const client = new ChatClient(url, { connections: 2, timeoutMs: DEADLINE_MS, maxRetries: 1 });
    try {
      await fc.assert(
        fc.asyncProperty(behaviour, fc.boolean(), async (b, stream) => {
          current = b;
          const started = performance.now();
          const out = await client.complete(JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...(stream && { stream: true }) }));
          const took = performance.now() - started;
          // Never hangs: two attempts at most, each bounded by the deadline, plus one short back-off.
          expect(took).toBeLessThan(2 * DEADLINE_MS + 10_000);
          expect(out.attempts).toBeGreaterThanOrEqual(1);
          expect(out.attempts).toBeLessThanOrEqual(2);
          if (out.error === undefined) {
            expect(typeof out.content).toBe('string');
            expect(out.content!.trim()).not.toBe('');
            expect(out.status).toBe(200);
          } else {
            expect(KINDS).toContain(out.error);
            expect(out.content).toBeUndefined();
            expect(typeof out.detail).toBe('string');
            // Only what a slow or broken server does may end as timeout or network.
            if (b.mode === 'normal') expect(['timeout', 'network']).not.toContain(out.error);
          }
          if (b.mode === 'slow') expect(out.error).toBe('timeout');
        }),
        fuzzParams(80),
      );
    } finally {
      await client.close();
    }
  });
});
