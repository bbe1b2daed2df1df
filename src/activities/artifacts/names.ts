// Checks on what callers hand the stores (keys, refs), so a bad name fails with a clear error
// before it can reach a path on disk or a URL.
import { ArtifactError, type ArtifactRef } from './store.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

const isBadSegment = (s: string) => s === '' || s === '.' || s === '..' || /[/\\\0]/.test(s);

/** Splits a logical key such as `<release>/<variant>/model.pt` into path segments, or throws. */
export function keySegments(key: string): string[] {
  const segments = typeof key === 'string' ? key.split('/') : [''];
  if (segments.some(isBadSegment)) {
    throw new ArtifactError(
      'InvalidArtifactUri',
      `invalid artifact key ${JSON.stringify(key)}: expected a relative path such as "<release>/<variant>/model.pt" ` +
        '(segments separated by "/", none empty, "." or "..", no backslash)',
      { key },
    );
  }
  return segments;
}

/** The decoded segments of a URI path (`a/b%20c/model.pt`), or throws naming the ref. */
export function uriSegments(ref: ArtifactRef, rawPath: string): string[] {
  let segments: string[];
  try {
    segments = rawPath.split('/').map(decodeURIComponent);
  } catch {
    segments = [''];
  }
  if (segments.some(isBadSegment)) {
    throw new ArtifactError('InvalidArtifactUri', `invalid artifact uri ${ref.uri}: its path must name a file (no empty, "." or ".." segments)`, { uri: ref.uri });
  }
  return segments;
}

/** The URI path for segments, each percent-encoded (a key may hold spaces or colons). */
export function encodeSegments(segments: string[]): string {
  return segments.map(encodeURIComponent).join('/');
}

/** Checks a ref's shape (digest, size) before anything trusts it; returns its uri parsed. */
export function checkRef(ref: ArtifactRef): URL {
  const invalid = (why: string) =>
    new ArtifactError('InvalidArtifactUri', `invalid artifact ref ${JSON.stringify(ref)}: ${why}`, { uri: ref?.uri });
  if (typeof ref !== 'object' || ref === null || typeof ref.uri !== 'string') throw invalid('expected { uri, sha256, size }');
  if (typeof ref.sha256 !== 'string' || !SHA256_HEX.test(ref.sha256)) throw invalid('sha256 must be 64 lowercase hex digits');
  if (!Number.isSafeInteger(ref.size) || ref.size < 0) throw invalid('size must be a whole number of bytes');
  try {
    return new URL(ref.uri);
  } catch {
    throw invalid('uri is not a URI (expected file:///... or mlflow-artifacts:/...)');
  }
}

/** The error for a ref whose scheme belongs to another kind of store. */
export function wrongScheme(ref: ArtifactRef, store: string, expected: string): ArtifactError {
  return new ArtifactError(
    'InvalidArtifactUri',
    `the ${store} artifact store cannot fetch ${ref.uri}: it reads ${expected} URIs only ` +
      '(refs made by another kind of store need that store: check the worker\'s artifact store setting)',
    { uri: ref.uri },
  );
}
