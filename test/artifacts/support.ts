// Helpers for the artifact store tests: temp dirs, random files, an independent sha256, and a
// recording HTTP server.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Temp dirs made by a test file, removed by `cleanup()` in its afterAll. */
export function tempDirs(prefix: string) {
  const made: string[] = [];
  return {
    make(name = 'dir'): string {
      const dir = mkdtempSync(path.join(os.tmpdir(), `slipway-artifacts-${prefix}-${name}-`));
      made.push(dir);
      return dir;
    },
    cleanup(): void {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `bytes` random bytes to `dir/name` and returns the path and the bytes. */
export function randomFile(dir: string, name: string, bytes: number): { file: string; content: Buffer } {
  const content = randomBytes(bytes);
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return { file, content };
}

/** sha256 of a file, read synchronously in blocks: an oracle that shares no code with the stores. */
export function sha256Of(file: string): string {
  const hash = createHash('sha256');
  const block = Buffer.alloc(1024 * 1024);
  const fd = openSync(file, 'r');
  try {
    for (let n = readSync(fd, block); n > 0; n = readSync(fd, block)) hash.update(block.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Every file (not directory) under `dir`, relative, sorted; [] when `dir` does not exist. */
export function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The error `p` rejects with; fails the test if it resolves. */
export async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail, it succeeded');
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bytes: number;
}

/**
 * A test double for MLflow in states the real server cannot be put in on demand (answering 500 or
 * 401): a plain HTTP server that records each request and answers every one with `status`.
 */
export async function startRecordingServer(status: number, body = '{"error_code":"INTERNAL_ERROR","message":"test double"}') {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes });
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '' : body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
