// A host's cache of verified artifact bytes, addressed by digest (`<cacheDir>/<sha256>/<basename>`),
// plus the streaming pieces both stores share: hash while copying, write to a temp file, rename.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArtifactError, type ArtifactRef } from './store.js';

/** A pass-through that hashes (sha256) and counts the bytes flowing through it. */
export class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  /** Hex digest of everything that passed; call once, after the stream ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** Streams `source` into a new file at `tempPath`, hashing on the way; removes the file on failure. */
export async function streamToFile(source: Readable, tempPath: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const hasher = new HashingStream();
  try {
    await pipeline(source, hasher, createWriteStream(tempPath, { flags: 'wx' }), signal ? { signal } : {});
  } catch (err) {
    await rm(tempPath, { force: true });
    throw err;
  }
  return { sha256: hasher.digest(), size: hasher.bytes };
}

/** A temp name beside `dir`'s entries: unique per call, so concurrent writers never share one. */
export function tempPathIn(dir: string): string {
  return path.join(dir, `.${randomUUID()}.partial`);
}

/**
 * Verified bytes by digest. An entry appears only by rename after its digest checked out, so a
 * reader never sees a partial file, and concurrent fetches of one ref each write their own temp
 * file and the last rename wins with identical bytes.
 */
export class DigestCache {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  /** The cached path of `ref`, or null. An entry of the wrong size (truncated by hand) is dropped. */
  async lookup(ref: ArtifactRef, basename: string): Promise<string | null> {
    const entry = path.join(this.dir, ref.sha256, basename);
    try {
      const st = await stat(entry);
      if (!st.isFile()) return null;
      if (st.size === ref.size) return entry;
      await rm(entry, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return null;
  }

  /** Streams `source` in, checks it against `ref`, and returns the entry's path; wrong bytes leave nothing behind. */
  async admit(ref: ArtifactRef, basename: string, source: Readable, signal?: AbortSignal): Promise<string> {
    const partialDir = path.join(this.dir, '.partial');
    await mkdir(partialDir, { recursive: true });
    const temp = tempPathIn(partialDir);
    const got = await streamToFile(source, temp, signal);
    try {
      if (got.sha256 !== ref.sha256 || got.size !== ref.size) throw digestMismatch(ref, got);
      // Entries are shared by every fetch of the digest on this host: make accidental writes fail.
      await chmod(temp, 0o444);
      const entry = path.join(this.dir, ref.sha256, basename);
      await mkdir(path.dirname(entry), { recursive: true });
      await rename(temp, entry);
      return entry;
    } finally {
      await rm(temp, { force: true });
    }
  }
}

/** The bytes behind a ref are not the ones it names: final, since fetching again gives the same bytes. */
export function digestMismatch(ref: ArtifactRef, actual: { sha256: string; size: number }): ArtifactError {
  return new ArtifactError(
    'ArtifactDigestMismatch',
    `artifact ${ref.uri} failed verification: expected sha256 ${ref.sha256} (${ref.size} bytes), ` +
      `got sha256 ${actual.sha256} (${actual.size} bytes). The stored bytes were replaced or corrupted, ` +
      'or the ref is wrong: re-run the step that produced the artifact.',
    { uri: ref.uri, expectedSha256: ref.sha256, actualSha256: actual.sha256, expectedSize: ref.size, actualSize: actual.size },
  );
}
