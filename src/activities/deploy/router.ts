// The stable endpoint of a local deployment: a small reverse proxy, run as its own detached process
//   node router.js --state <deployments/NAME/state.json> --port <port>
// It forwards every request (/v1/*, /health, /metrics, ...) to the live version's port, read from
// the state file the deploy target writes atomically. A promote or rollback is a state-file write;
// the router notices on the next request, so switching never drops the listening socket.
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface Live {
  version: string;
  port: number;
}

/** Reserved path that answers from the router itself, so the deploy target can tell it is ours. */
export const ROUTER_INFO_PATH = '/__slipway/router';
export const VERSION_HEADER = 'x-slipway-version';

// Hop-by-hop headers describe one connection and must not be forwarded across the proxy.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !HOP.has(k.toLowerCase())));
}

/** Caches the live version and re-reads the state file only when its inode, size or mtime change. */
function liveReader(stateFile: string): () => Live | null {
  let key = '';
  let live: Live | null = null;
  return () => {
    let stat;
    try {
      stat = statSync(stateFile);
    } catch {
      key = '';
      return (live = null);
    }
    const next = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (next === key) return live;
    try {
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { live: string | null; versions: Record<string, { port: number }> };
      const port = state.live === null ? undefined : state.versions[state.live]?.port;
      live = state.live !== null && port ? { version: state.live, port } : null;
      key = next;
    } catch {
      live = null; // A foreign or damaged file: serve 503 until the target rewrites it.
    }
    return live;
  };
}

/** Starts the proxy on 127.0.0.1:`port`; resolves once it listens. */
export async function startRouter(stateFile: string, port: number): Promise<http.Server> {
  const current = liveReader(stateFile);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const reply = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const live = current();
    if (req.url === ROUTER_INFO_PATH) return reply(res, 200, { pid: process.pid, state: stateFile, live: live?.version ?? null });
    if (!live) return reply(res, 503, { error: { message: 'no live version', type: 'no_live_version' } });
    const upstream = http.request(
      { host: '127.0.0.1', port: live.port, method: req.method, path: req.url, headers: endToEnd(req.headers), agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, { ...endToEnd(up.headers), [VERSION_HEADER]: live.version });
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (res.headersSent) res.destroy();
      else reply(res, 502, { error: { message: `version ${live.version} unreachable: ${err.message}`, type: 'upstream_unreachable' } });
    });
    // A client that goes away (e.g. an aborted stream) frees the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Loopback unless the worker's environment says otherwise (0.0.0.0 in a container whose port is published).
    server.listen(port, process.env.SLIPWAY_ENDPOINT_HOST ?? '127.0.0.1', resolve);
  });
  return server;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { state: { type: 'string' }, port: { type: 'string' } } });
  if (!values.state || !values.port) throw new Error('usage: router --state <state.json> --port <port>');
  const server = await startRouter(values.state, Number(values.port));
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The log file is the router's stdout: one line says it is up.
  process.stdout.write(JSON.stringify({ type: 'ready', port: Number(values.port), pid: process.pid }) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`router failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
