// The artifact store for one host or a shared filesystem: files under a root directory, `file://` refs.
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DigestCache, streamToFile, tempPathIn } from './cache.js';
import { checkRef, keySegments, wrongScheme } from './names.js';
import { ArtifactError, type ArtifactRef, type ArtifactStore, type TransferOptions } from './store.js';

export interface LocalArtifactStoreOptions {
  /** Where put stores files, as `<root>/<key>`. */
  root: string;
  /** Where fetch keeps verified copies, as `<cacheDir>/<sha256>/<basename>`. */
  cacheDir: string;
}

/**
 * Stores by copying into `<root>/<key>` through a temp file and a rename, so a reader never sees a
 * half-written file. Fetch copies into the digest cache while hashing: the copy is what was verified,
 * and a later change to the stored file cannot alter it.
 */
export class LocalArtifactStore implements ArtifactStore {
  readonly kind = 'local';
  readonly root: string;
  private readonly cache: DigestCache;

  constructor(opts: LocalArtifactStoreOptions) {
    this.root = path.resolve(opts.root);
    this.cache = new DigestCache(opts.cacheDir);
  }

  async put(localPath: string, key: string, opts: TransferOptions = {}): Promise<ArtifactRef> {
    const dest = path.join(this.root, ...keySegments(key));
    await mkdir(path.dirname(dest), { recursive: true });
    const temp = tempPathIn(path.dirname(dest));
    const { sha256, size } = await streamToFile(createReadStream(localPath), temp, opts.signal);
    try {
      await rename(temp, dest);
    } finally {
      await rm(temp, { force: true });
    }
    return { uri: pathToFileURL(dest).href, sha256, size };
  }

  jobEnv(prefix: string): Record<string, string> {
    return { SLIPWAY_ARTIFACTS: pathToFileURL(this.root).href, SLIPWAY_ARTIFACT_PREFIX: prefix };
  }

  async fetch(ref: ArtifactRef, opts: TransferOptions = {}): Promise<string> {
    const url = checkRef(ref);
    if (url.protocol !== 'file:') throw wrongScheme(ref, 'local', 'file://');
    let source: string;
    try {
      source = fileURLToPath(url);
    } catch (err) {
      throw new ArtifactError('InvalidArtifactUri', `invalid artifact uri ${ref.uri}: ${(err as Error).message}`, { uri: ref.uri }, { cause: err });
    }
    const basename = path.basename(source);
    if (basename === '') throw new ArtifactError('InvalidArtifactUri', `invalid artifact uri ${ref.uri}: it must name a file`, { uri: ref.uri });
    const hit = await this.cache.lookup(ref, basename);
    if (hit) return hit;
    try {
      if (!(await stat(source)).isFile()) throw Object.assign(new Error(`${source} is not a file`), { code: 'ENOENT' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new ArtifactError('ArtifactNotFound', `artifact ${ref.uri} not found: no file at ${source}`, { uri: ref.uri }, { cause: err });
    }
    return this.cache.admit(ref, basename, createReadStream(source), opts.signal);
  }
}
