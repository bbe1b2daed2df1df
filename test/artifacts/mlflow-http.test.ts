import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, expect, it } from 'vitest';
import { MlflowArtifactStore, toActivityFailure } from '../../src/activities/artifacts/index.js';
import type { MlflowConfig } from '../../src/activities/mlflow/config.js';
import { MlflowHttp } from '../../src/activities/mlflow/http.js';
import { filesUnder, randomFile, rejectionOf, startRecordingServer, tempDirs } from './support.js';

// HTTP answers the real MLflow gives only in bad moments (5xx, 429, 401), and the auth headers on
// the wire, checked against a recording server (a test double, see support.ts).
const dirs = tempDirs('http');
afterAll(() => dirs.cleanup());
const ref = { uri: 'mlflow-artifacts:/slipway/rel/v/model.pt', sha256: 'd'.repeat(64), size: 3 };

it.each([
  [500, 'ArtifactStoreUnavailable', true],
  [503, 'ArtifactStoreUnavailable', true],
  [429, 'ArtifactStoreUnavailable', true],
  [408, 'ArtifactStoreUnavailable', true],
  [401, 'ArtifactStoreRejected', false],
  [400, 'ArtifactStoreRejected', false],
  [404, 'ArtifactNotFound', false],
])('HTTP %i is %s (retryable: %s) for fetch and put', async (status, type, retryable) => {
  const server = await startRecordingServer(status);
  try {
    const cacheDir = dirs.make('cache');
    const store = new MlflowArtifactStore({ config: { trackingUri: server.url }, cacheDir });
    const fetchErr = await rejectionOf(store.fetch(ref));
    expect(fetchErr).toMatchObject({ type, retryable, details: { uri: ref.uri, status } });
    expect(toActivityFailure(fetchErr)).toMatchObject({ type, nonRetryable: !retryable });
    const { file } = randomFile(dirs.make('src'), 'model.pt', 100_000);
    expect(await rejectionOf(store.put(file, 'rel/v/model.pt'))).toMatchObject({ type, retryable, details: { status } });
    if (status === 401) expect(fetchErr.message).toContain('MLFLOW_TRACKING_USERNAME');
  } finally {
    await server.stop();
  }
});

it('sends the same Authorization header as the MLflow client, streams the upload with its length, and keeps secrets out of refs', async () => {
  const server = await startRecordingServer(200);
  try {
    const configs: MlflowConfig[] = [
      { trackingUri: server.url, token: 'tok-123' },
      { trackingUri: server.url, username: 'ann', password: 'pw-456' },
      { trackingUri: server.url, username: 'ann', password: 'pw-456', token: 'tok-123' },
      { trackingUri: server.url },
    ];
    const { file } = randomFile(dirs.make('src'), 'model.pt', 256 * 1024);
    for (const config of configs) {
      server.requests.length = 0;
      await new MlflowHttp(config).putArtifact('slipway/probe.bin', 'x');
      const ref = await new MlflowArtifactStore({ config, cacheDir: dirs.make('cache') }).put(file, 'rel/v/model.pt');
      const [viaClient, viaStore] = server.requests;
      expect(viaStore?.headers.authorization).toBe(viaClient?.headers.authorization);
      expect(viaStore).toMatchObject({ method: 'PUT', url: '/api/2.0/mlflow-artifacts/artifacts/slipway/rel/v/model.pt', bytes: 256 * 1024 });
      expect(viaStore?.headers['content-length']).toBe(String(256 * 1024));
      expect(JSON.stringify(ref)).not.toMatch(/tok-123|pw-456|ann/);
    }
    expect(server.requests[0]?.headers.authorization).toBeUndefined();
  } finally {
    await server.stop();
  }
});

it('a connection cut mid-download is ArtifactStoreUnavailable (retryable) and leaves nothing in the cache', async () => {
  // A test double for an MLflow that dies while sending: it promises 1 MB and sends half.
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(1024 * 1024) });
    res.write(Buffer.alloc(512 * 1024, 7), () => res.socket?.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const cacheDir = dirs.make('cache');
    const trackingUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const err = await rejectionOf(new MlflowArtifactStore({ config: { trackingUri }, cacheDir }).fetch({ ...ref, size: 1024 * 1024 }));
    expect(err).toMatchObject({ type: 'ArtifactStoreUnavailable', retryable: true, details: { uri: ref.uri } });
    expect(filesUnder(cacheDir)).toEqual([]);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
