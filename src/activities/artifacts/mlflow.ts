// The artifact store for hosts that share no disk: MLflow's proxied artifact API, `mlflow-artifacts:/` refs.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { MlflowConfig } from '../mlflow/config.js';
import { DigestCache, HashingStream } from './cache.js';
import { MlflowArtifactTransport } from './mlflow-transport.js';
import { checkRef, encodeSegments, keySegments, uriSegments, wrongScheme } from './names.js';
import { ArtifactError, type ArtifactRef, type ArtifactStore, type TransferOptions } from './store.js';

export interface MlflowArtifactStoreOptions {
  /** The MLflow server (`mlflow server --serve-artifacts`) and its credentials; none of it enters a ref. */
  config: MlflowConfig;
  /** Where fetch keeps verified downloads, as `<cacheDir>/<sha256>/<basename>`. */
  cacheDir: string;
  /** Folder in the artifact root that put writes under; default `slipway`. */
  prefix?: string;
  /**
   * The Authorization header value jobs send when they store files themselves (the Python helper):
   * a credential made for jobs (e.g. an MLflow user that may only write artifacts), never the worker's.
   * Jobs get none when left out, which suits an MLflow without auth.
   */
  jobAuthorization?: string;
}

/**
 * put uploads `<prefix>/<key>` as one streamed PUT, hashing the bytes as they go, and returns
 * `mlflow-artifacts:/<prefix>/<key>`: the ref names a path on whichever MLflow server the reading
 * worker is configured with, never a host or a credential. fetch streams the download into the
 * digest cache, verifies it, and serves later fetches of the same digest from disk.
 */
export class MlflowArtifactStore implements ArtifactStore {
  readonly kind = 'mlflow';
  private readonly transport: MlflowArtifactTransport;
  private readonly cache: DigestCache;
  private readonly prefix: string[];
  private readonly trackingUri: string;
  private readonly jobAuthorization?: string;

  constructor(opts: MlflowArtifactStoreOptions) {
    this.transport = new MlflowArtifactTransport(opts.config);
    this.cache = new DigestCache(opts.cacheDir);
    this.prefix = opts.prefix === '' ? [] : keySegments(opts.prefix ?? 'slipway');
    this.trackingUri = opts.config.trackingUri.replace(/\/+$/, '');
    this.jobAuthorization = opts.jobAuthorization;
  }

  jobEnv(prefix: string): Record<string, string> {
    return {
      SLIPWAY_ARTIFACTS: `mlflow-artifacts:/${encodeSegments(this.prefix)}`,
      SLIPWAY_ARTIFACTS_URL: this.trackingUri,
      SLIPWAY_ARTIFACT_PREFIX: prefix,
      ...(this.jobAuthorization ? { SLIPWAY_ARTIFACTS_AUTHORIZATION: this.jobAuthorization } : {}),
    };
  }

  async put(localPath: string, key: string, opts: TransferOptions = {}): Promise<ArtifactRef> {
    const segments = [...this.prefix, ...keySegments(key)];
    const uri = `mlflow-artifacts:/${encodeSegments(segments)}`;
    const { size } = await stat(localPath);
    const file = createReadStream(localPath);
    const hasher = new HashingStream();
    let readError: unknown;
    file.once('error', (err) => {
      readError = err;
      hasher.destroy(err);
    });
    try {
      await this.transport.upload(segments, uri, file.pipe(hasher), size, opts.signal);
    } catch (err) {
      // A local read failure is ours, not the server's: report it as it is.
      throw readError ?? err;
    } finally {
      file.destroy();
      hasher.destroy();
    }
    if (hasher.bytes !== size) throw new Error(`${localPath} changed while it was uploaded to ${uri} (${size} bytes before, ${hasher.bytes} sent)`);
    return { uri, sha256: hasher.digest(), size };
  }

  async fetch(ref: ArtifactRef, opts: TransferOptions = {}): Promise<string> {
    const url = checkRef(ref);
    if (url.protocol !== 'mlflow-artifacts:') throw wrongScheme(ref, 'mlflow', 'mlflow-artifacts:/');
    if (url.host !== '' || url.search !== '' || url.hash !== '') {
      throw new ArtifactError(
        'InvalidArtifactUri',
        `invalid artifact uri ${ref.uri}: refs name a path only (mlflow-artifacts:/<path>, no server, query or fragment); ` +
          "it is read from the worker's configured MLflow",
        { uri: ref.uri },
      );
    }
    // The raw path, not url.pathname: the URL parser would quietly resolve "..", and a ref must say exactly what it reads.
    const segments = uriSegments(ref, ref.uri.slice(url.protocol.length).replace(/^\/+/, ''));
    const basename = segments[segments.length - 1] as string;
    const hit = await this.cache.lookup(ref, basename);
    if (hit) return hit;
    const body = await this.transport.download(segments, ref.uri, opts.signal);
    try {
      return await this.cache.admit(ref, basename, body, opts.signal);
    } catch (err) {
      throw err instanceof ArtifactError ? err : this.transport.failure(err, `GET mlflow-artifacts/${segments.join('/')}`, ref.uri);
    } finally {
      body.destroy();
    }
  }
}
