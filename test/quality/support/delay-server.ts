// TEST DOUBLE for a model server whose latency varies by request: a real HTTP server on loopback
// that answers `delay:<ms>` prompts after that many milliseconds and records how long it held each
// request (its service time), an independent measurement to check the harness's percentiles against.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DelayServer {
  url: string;
  /** Milliseconds from request received to response sent, one per chat request. */
  serviceTimes: number[];
  close(): Promise<void>;
}

export async function startDelayServer(): Promise<DelayServer> {
  const serviceTimes: number[] = [];
  const server = http.createServer((req, res) => {
    const started = performance.now();
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      if (req.url !== '/v1/chat/completions') {
        res.writeHead(404).end();
        return;
      }
      const prompt = (JSON.parse(body) as { messages: Array<{ content: string }> }).messages.at(-1)?.content ?? '';
      const delay = Number(/^delay:(\d+)$/.exec(prompt)?.[1] ?? 0);
      setTimeout(() => {
        const payload = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: prompt }, finish_reason: 'stop' }] });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(payload, () => serviceTimes.push(performance.now() - started));
      }, delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serviceTimes,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
