// TEST DOUBLE for an endpoint that is not a model server (a web page, a proxy, a stub answering
// `{}`): a real HTTP server on loopback whose chat answers come from a function of the request's
// number. Every other path is a 404 page, so it exposes no /metrics either.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OddAnswer {
  type: string;
  body: string;
}

export interface OddServer {
  url: string;
  /** Chat requests received. */
  requests: number;
  close(): Promise<void>;
}

export const HTML_PAGE: OddAnswer = { type: 'text/html; charset=utf-8', body: '<!doctype html>\n<html><head><title>Welcome</title></head><body>It works!</body></html>' };
export const EMPTY_OBJECT: OddAnswer = { type: 'application/json', body: '{}' };
export const chatAnswer = (content: string): OddAnswer => ({
  type: 'application/json',
  body: JSON.stringify({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }),
});

export async function startOddServer(answer: (n: number) => OddAnswer): Promise<OddServer> {
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/chat/completions') {
        const { type, body } = answer(state.requests++);
        res.writeHead(200, { 'content-type': type }).end(body);
      } else res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not Found</body></html>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
