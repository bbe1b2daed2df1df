import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { LocalArtifactStore, toActivityFailure, type ArtifactRef } from '../../src/activities/artifacts/index.js';
import { filesUnder, randomFile, rejectionOf, sha256Of, tempDirs } from './support.js';

const dirs = tempDirs('local');
afterAll(() => dirs.cleanup());
const store = (root = dirs.make('root')) => new LocalArtifactStore({ root, cacheDir: dirs.make('cache') });

it('put copies into <root>/<key> and returns a file:// ref; fetch returns a verified copy in the cache', async () => {
  const root = dirs.make('root');
  const { file, content } = randomFile(dirs.make('src'), 'model.pt', 100_000);
  const s = store(root);
  const ref = await s.put(file, 'rel-1/variant a/model.pt');
  const stored = path.join(root, 'rel-1', 'variant a', 'model.pt');
  expect(ref).toEqual({ uri: pathToFileURL(stored).href, sha256: sha256Of(file), size: content.length });
  expect(filesUnder(root)).toEqual([path.join('rel-1', 'variant a', 'model.pt')]); // no temp files left
  expect(s.kind).toBe('local');

  const fetched = await s.fetch(ref);
  expect(fetched).not.toBe(stored);
  expect(fetched).toMatch(new RegExp(`/${ref.sha256}/model\\.pt$`));
  expect(readFileSync(fetched).equals(content)).toBe(true);
});

it('put is idempotent', async () => {
  const { file } = randomFile(dirs.make('src'), 'model.pt', 5000);
  const s = store();
  const first = await s.put(file, 'rel/v/model.pt');
  expect(await s.put(file, 'rel/v/model.pt')).toEqual(first);
  expect(sha256Of(fileURLToPath(first.uri))).toBe(first.sha256);
});

it('a second fetch is served from the cache: it succeeds after the stored file is gone', async () => {
  const { file, content } = randomFile(dirs.make('src'), 'model.pt', 5000);
  const s = store();
  const ref = await s.put(file, 'rel/v/model.pt');
  const first = await s.fetch(ref);
  rmSync(fileURLToPath(ref.uri));
  expect(await rejectionOf(store().fetch(ref))).toMatchObject({ type: 'ArtifactNotFound' }); // truly gone without the cache
  expect(await s.fetch(ref)).toBe(first);
  expect(readFileSync(first).equals(content)).toBe(true);
});

it('bytes that do not match the ref are ArtifactDigestMismatch (final), and nothing enters the cache', async () => {
  const { file } = randomFile(dirs.make('src'), 'model.pt', 5000);
  const ref = await store().put(file, 'rel/v/model.pt');
  writeFileSync(fileURLToPath(ref.uri), 'overwritten behind the store');
  const cacheDir = dirs.make('cache');
  const s = new LocalArtifactStore({ root: dirs.make('root'), cacheDir });
  const err = await rejectionOf(s.fetch(ref));
  expect(err).toMatchObject({ type: 'ArtifactDigestMismatch', retryable: false, details: { expectedSha256: ref.sha256 } });
  for (const part of [ref.uri, ref.sha256, sha256Of(fileURLToPath(ref.uri))]) expect(err.message).toContain(part);
  expect(toActivityFailure(err)).toMatchObject({ type: 'ArtifactDigestMismatch', nonRetryable: true });
  expect(filesUnder(cacheDir)).toEqual([]);

  const tampered = await rejectionOf(s.fetch({ ...ref, sha256: sha256Of(fileURLToPath(ref.uri)).replace(/^./, (c) => (c === '0' ? '1' : '0')) }));
  expect(tampered).toMatchObject({ type: 'ArtifactDigestMismatch' });
  expect(filesUnder(cacheDir)).toEqual([]);
});

it('a cache entry changed by hand (wrong size) is verified again from the store', async () => {
  const { file, content } = randomFile(dirs.make('src'), 'model.pt', 5000);
  const s = store();
  const ref = await s.put(file, 'rel/v/model.pt');
  const entry = await s.fetch(ref);
  chmodSync(entry, 0o644);
  writeFileSync(entry, 'short');
  expect(await s.fetch(ref)).toBe(entry);
  expect(readFileSync(entry).equals(content)).toBe(true);
});

it('an mlflow-artifacts: ref, a bad digest or an escaping key is InvalidArtifactUri (final); a missing file is ArtifactNotFound', async () => {
  const s = store();
  const sha256 = 'e'.repeat(64);
  const err = await rejectionOf(s.fetch({ uri: 'mlflow-artifacts:/slipway/rel/v/model.pt', sha256, size: 1 }));
  expect(err).toMatchObject({ type: 'InvalidArtifactUri', retryable: false });
  expect(err.message).toContain('reads file:// URIs only');
  expect(toActivityFailure(err)).toMatchObject({ type: 'InvalidArtifactUri', nonRetryable: true });
  const invalid: ArtifactRef[] = [
    { uri: 'file://remote-host/data/model.pt', sha256, size: 1 },
    { uri: 'file:///', sha256, size: 1 },
    { uri: 'file:///tmp/model.pt', sha256: 'nope', size: 1 },
    { uri: 'file:///tmp/model.pt', sha256, size: 1.5 },
  ];
  for (const ref of invalid) expect(await rejectionOf(s.fetch(ref)), ref.uri).toMatchObject({ type: 'InvalidArtifactUri' });

  const missing = pathToFileURL(path.join(dirs.make('empty'), 'model.pt')).href;
  expect(await rejectionOf(s.fetch({ uri: missing, sha256, size: 1 }))).toMatchObject({ type: 'ArtifactNotFound', retryable: false, details: { uri: missing } });

  const { file } = randomFile(dirs.make('src'), 'model.pt', 10);
  for (const key of ['../outside.pt', 'a/../../outside.pt', '/etc/model.pt']) {
    expect(await rejectionOf(s.put(file, key)), key).toMatchObject({ type: 'InvalidArtifactUri' });
  }
});

it('concurrent fetches of one ref all get the verified file and leave one cache entry', async () => {
  const { file, content } = randomFile(dirs.make('src'), 'model.pt', 2 * 1024 * 1024);
  const root = dirs.make('root');
  const cacheDir = dirs.make('cache');
  const a = new LocalArtifactStore({ root, cacheDir });
  const b = new LocalArtifactStore({ root, cacheDir });
  const ref = await a.put(file, 'rel/v/model.pt');
  const paths = await Promise.all([a.fetch(ref), a.fetch(ref), b.fetch(ref), b.fetch(ref)]);
  expect(new Set(paths).size).toBe(1);
  expect(readFileSync(paths[0] as string).equals(content)).toBe(true);
  expect(filesUnder(cacheDir)).toEqual([path.join(ref.sha256, 'model.pt')]);
});
