// The codec server the Temporal Web UI calls to show encrypted payloads decoded: POST /decode and
// /encode with {"payloads": [...]} in proto JSON, CORS for the UI's origin, and a bearer token.
import type { Payload, PayloadCodec } from '@temporalio/common';
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Who may call: `Authorization: Bearer <token>`, or the path prefix `/<token>/` for UIs that cannot send headers. */
  token: string;
  /** Origins of the Temporal UI allowed to call from a browser (e.g. http://localhost:8233). */
  origins: string[];
  port: number;
  host?: string;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const MAX_BODY = 8 * 1024 * 1024;
const b64 = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('base64');

function fromJson(p: JsonPayload): Payload {
  return { metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])), data: Buffer.from(p.data ?? '', 'base64') };
}

function toJson(p: Payload): JsonPayload {
  return { metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(p.data) };
}

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the codec server; resolves once it listens. */
export async function startCodecServer(opts: CodecServerOptions): Promise<{ server: Server; url: string }> {
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin && opts.origins.includes(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('vary', 'origin');
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
      res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
      res.writeHead(204).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://codec');
    const parts = url.pathname.split('/').filter(Boolean);
    const action = parts.at(-1);
    const pathToken = parts.length === 2 ? parts[0] : undefined;
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (req.method !== 'POST' || (action !== 'encode' && action !== 'decode') || parts.length > 2) return send(res, 404, { error: 'POST /decode or /encode' });
    if (!sameToken(bearer ?? pathToken ?? '', opts.token)) return send(res, 401, { error: 'a valid bearer token is required' });
    readBody(req)
      .then(async (text) => {
        const body = JSON.parse(text) as { payloads?: JsonPayload[] };
        if (!Array.isArray(body.payloads)) return send(res, 400, { error: 'expected {"payloads": [...]}' });
        const payloads = body.payloads.map(fromJson);
        const out = action === 'decode' ? await opts.codec.decode(payloads) : await opts.codec.encode(payloads);
        send(res, 200, { payloads: out.map(toJson) });
      })
      .catch((err: unknown) => send(res, 400, { error: (err as Error).message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return { server, url: `http://${opts.host ?? '127.0.0.1'}:${port}` };
}
