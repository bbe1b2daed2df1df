import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ArtifactError, MlflowArtifactStore, toActivityFailure, type ArtifactRef } from '../../src/activities/artifacts/index.js';
import { freePort } from '../../src/system/ports.js';
import { pythonMlflow, unique } from '../mlflow/support.js';
import { filesUnder, randomFile, rejectionOf, sha256Of, tempDirs } from './support.js';

// Each store below is one host: its own cacheDir, and no disk shared with the others.
const dirs = tempDirs('mlflow');
afterAll(() => dirs.cleanup());
const config = () => ({ trackingUri: inject('mlflowUrl') });
const host = (trackingUri = inject('mlflowUrl')) => new MlflowArtifactStore({ config: { trackingUri, requestTimeoutMs: 10_000 }, cacheDir: dirs.make('cache') });
const deadUrl = async () => `http://127.0.0.1:${await freePort()}`;

describe('MlflowArtifactStore against the real MLflow', () => {
  it('put on one host, fetch on another: identical bytes, a ref with no host or path of the writer', async () => {
    const { file, content } = randomFile(dirs.make('src'), 'model.pt', 64 * 1024 + 7);
    const key = `${unique('rel')}/variant-a/model.pt`;
    const ref = await host().put(file, key);
    expect(ref).toEqual({ uri: `mlflow-artifacts:/slipway/${key}`, sha256: sha256Of(file), size: content.length });

    const reader = new MlflowArtifactStore({ config: config(), cacheDir: dirs.make('reader') });
    const fetched = await reader.fetch(ref);
    expect(fetched).toMatch(new RegExp(`/${ref.sha256}/model\\.pt$`));
    expect(readFileSync(fetched).equals(content)).toBe(true);

    // MLflow's own Python client resolves the same ref to the same bytes.
    const viaPython = await pythonMlflow(
      inject('mlflowUrl'),
      'import hashlib\nfrom mlflow.artifacts import download_artifacts\n' +
        'out = hashlib.sha256(open(download_artifacts(artifact_uri=args[0], dst_path=args[1]), "rb").read()).hexdigest()',
      [ref.uri, dirs.make('python')],
    );
    expect(viaPython).toBe(ref.sha256);
  });

  it('round-trips a 20 MB file', async () => {
    const { file } = randomFile(dirs.make('src'), 'checkpoint.bin', 20 * 1024 * 1024);
    const ref = await host().put(file, `${unique('rel')}/big/checkpoint.bin`);
    const fetched = await host().fetch(ref);
    expect(ref.size).toBe(20 * 1024 * 1024);
    expect(sha256Of(fetched)).toBe(sha256Of(file));
    expect(readFileSync(fetched).equals(readFileSync(file))).toBe(true);
  });

  it('keys with spaces and colons round-trip, percent-encoded in the uri', async () => {
    const { file, content } = randomFile(dirs.make('src'), 'w.bin', 1000);
    const key = `${unique('rel')}/run 2026-01-01T00:00:00/w.bin`;
    const ref = await host().put(file, key);
    expect(ref.uri).toBe(`mlflow-artifacts:/slipway/${key.split('/').map(encodeURIComponent).join('/')}`);
    expect(readFileSync(await host().fetch(ref)).equals(content)).toBe(true);
  });

  it('put is idempotent; different bytes under a used key replace them, and the old ref then fails verification', async () => {
    const src = dirs.make('src');
    const { file } = randomFile(src, 'model.pt', 4096);
    const key = `${unique('rel')}/v/model.pt`;
    const writer = host();
    const first = await writer.put(file, key);
    expect(await writer.put(file, key)).toEqual(first);
    expect(sha256Of(await host().fetch(first))).toBe(first.sha256);

    const other = randomFile(src, 'other.pt', 4096).file;
    const second = await writer.put(other, key);
    expect(second.uri).toBe(first.uri);
    expect(second.sha256).not.toBe(first.sha256);
    const err = await rejectionOf(host().fetch(first));
    expect(err).toMatchObject({ type: 'ArtifactDigestMismatch', retryable: false });
  });

  it('a tampered digest is ArtifactDigestMismatch (final), naming uri and both digests, and leaves nothing in the cache', async () => {
    const { file } = randomFile(dirs.make('src'), 'model.pt', 10_000);
    const ref = await host().put(file, `${unique('rel')}/v/model.pt`);
    const tampered: ArtifactRef = { ...ref, sha256: 'f'.repeat(64) };
    const cacheDir = dirs.make('cache');
    const store = new MlflowArtifactStore({ config: config(), cacheDir });

    const err = await rejectionOf(store.fetch(tampered));
    expect(err).toBeInstanceOf(ArtifactError);
    expect(err).toMatchObject({ type: 'ArtifactDigestMismatch', retryable: false, details: { uri: ref.uri, actualSha256: ref.sha256 } });
    for (const part of [ref.uri, tampered.sha256, ref.sha256]) expect(err.message).toContain(part);
    expect(filesUnder(cacheDir)).toEqual([]);

    const failure = toActivityFailure(err) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'ArtifactDigestMismatch', nonRetryable: true });
    // The same ref with the right digest still fetches into that cache.
    expect(sha256Of(await store.fetch(ref))).toBe(ref.sha256);
  });

  it('a wrong size alone is a mismatch too', async () => {
    const { file } = randomFile(dirs.make('src'), 'model.pt', 2048);
    const ref = await host().put(file, `${unique('rel')}/v/model.pt`);
    const err = await rejectionOf(host().fetch({ ...ref, size: ref.size + 1 }));
    expect(err).toMatchObject({ type: 'ArtifactDigestMismatch', details: { expectedSize: 2049, actualSize: 2048 } });
  });

  it('a uri that names nothing is ArtifactNotFound (final)', async () => {
    const cacheDir = dirs.make('cache');
    const ref = { uri: `mlflow-artifacts:/slipway/${unique('missing')}/model.pt`, sha256: 'a'.repeat(64), size: 1 };
    const err = await rejectionOf(new MlflowArtifactStore({ config: config(), cacheDir }).fetch(ref));
    expect(err).toMatchObject({ type: 'ArtifactNotFound', retryable: false, details: { uri: ref.uri, status: 404 } });
    expect(err.message).toContain(ref.uri);
    expect(toActivityFailure(err)).toMatchObject({ type: 'ArtifactNotFound', nonRetryable: true });
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it('an unreachable MLflow is ArtifactStoreUnavailable (retryable) for put and fetch', async () => {
    const { file } = randomFile(dirs.make('src'), 'model.pt', 1000);
    const dead = host(await deadUrl());
    const putErr = await rejectionOf(dead.put(file, 'rel/v/model.pt'));
    expect(putErr).toMatchObject({ type: 'ArtifactStoreUnavailable', retryable: true });
    expect(putErr.message).toContain('unreachable');
    const fetchErr = await rejectionOf(dead.fetch({ uri: 'mlflow-artifacts:/slipway/rel/v/model.pt', sha256: 'b'.repeat(64), size: 1000 }));
    expect(fetchErr).toMatchObject({ type: 'ArtifactStoreUnavailable', retryable: true });
    expect(toActivityFailure(fetchErr)).toMatchObject({ type: 'ArtifactStoreUnavailable', nonRetryable: false });
  });

  it('a second fetch is served from the cache: it succeeds with the server out of reach', async () => {
    const { file, content } = randomFile(dirs.make('src'), 'model.pt', 30_000);
    const ref = await host().put(file, `${unique('rel')}/v/model.pt`);
    const cacheDir = dirs.make('cache');
    const first = await new MlflowArtifactStore({ config: config(), cacheDir }).fetch(ref);

    const dead = await deadUrl();
    // Without the cache this host cannot fetch at all...
    expect(await rejectionOf(new MlflowArtifactStore({ config: { trackingUri: dead }, cacheDir: dirs.make('cold') }).fetch(ref))).toMatchObject({ type: 'ArtifactStoreUnavailable' });
    // ...with it, the same ref is answered from disk.
    const second = await new MlflowArtifactStore({ config: { trackingUri: dead }, cacheDir }).fetch(ref);
    expect(second).toBe(first);
    expect(readFileSync(second).equals(content)).toBe(true);
  });

  it('a cache entry of the wrong size (truncated by hand) is fetched again', async () => {
    const { file, content } = randomFile(dirs.make('src'), 'model.pt', 5000);
    const ref = await host().put(file, `${unique('rel')}/v/model.pt`);
    const store = host();
    const entry = await store.fetch(ref);
    writeFileSync(entry, 'truncated', { mode: 0o644, flag: 'w' });
    expect(await store.fetch(ref)).toBe(entry);
    expect(readFileSync(entry).equals(content)).toBe(true);
  });

  it('concurrent fetches of one ref, by one store and by two stores sharing a cache dir, all get the verified file', async () => {
    const { file, content } = randomFile(dirs.make('src'), 'model.pt', 3 * 1024 * 1024);
    const ref = await host().put(file, `${unique('rel')}/v/model.pt`);
    const cacheDir = dirs.make('shared-cache');
    const a = new MlflowArtifactStore({ config: config(), cacheDir });
    const b = new MlflowArtifactStore({ config: config(), cacheDir });
    const paths = await Promise.all([a.fetch(ref), a.fetch(ref), b.fetch(ref), b.fetch(ref)]);
    expect(new Set(paths).size).toBe(1);
    expect(readFileSync(paths[0] as string).equals(content)).toBe(true);
    expect(filesUnder(cacheDir)).toEqual([path.join(ref.sha256, 'model.pt')]);
  });

  it('refuses refs it cannot read and keys that would escape the prefix, as InvalidArtifactUri (final)', async () => {
    const store = host();
    const sha256 = 'c'.repeat(64);
    const bad: ArtifactRef[] = [
      { uri: 'file:///tmp/model.pt', sha256, size: 1 },
      { uri: 'mlflow-artifacts://other-host:5000/slipway/model.pt', sha256, size: 1 },
      { uri: 'mlflow-artifacts:/slipway/%2e%2e/model.pt', sha256, size: 1 },
      { uri: 'mlflow-artifacts:/slipway/../model.pt', sha256, size: 1 },
      { uri: 'mlflow-artifacts:/slipway/model.pt?version=2', sha256, size: 1 },
      { uri: 'mlflow-artifacts:/slipway/dir/', sha256, size: 1 },
      { uri: 'mlflow-artifacts:/slipway/model.pt', sha256: 'C'.repeat(64), size: 1 },
      { uri: 'mlflow-artifacts:/slipway/model.pt', sha256: '../../etc', size: 1 },
      { uri: 'mlflow-artifacts:/slipway/model.pt', sha256, size: -1 },
      { uri: 'not a uri', sha256, size: 1 },
    ];
    for (const ref of bad) {
      const err = await rejectionOf(store.fetch(ref));
      expect(err, ref.uri).toMatchObject({ type: 'InvalidArtifactUri', retryable: false });
    }
    expect((await rejectionOf(store.fetch(bad[0] as ArtifactRef))).message).toContain('reads mlflow-artifacts:/ URIs only');
    const { file } = randomFile(dirs.make('src'), 'model.pt', 10);
    for (const key of ['../escape.pt', '/abs/model.pt', 'a//b.pt', 'a/./b.pt', 'a\\b.pt', '']) {
      expect(await rejectionOf(store.put(file, key)), key).toMatchObject({ type: 'InvalidArtifactUri', details: { key } });
    }
  });

  it('a local file that cannot be read fails as itself, not as a store error', async () => {
    const err = await rejectionOf(host().put(path.join(dirs.make('src'), 'absent.pt'), 'rel/v/absent.pt'));
    expect(err).not.toBeInstanceOf(ArtifactError);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(toActivityFailure(err)).toBe(err);
  });
});
