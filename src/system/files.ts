// Small file helpers: the end of a log file for error messages, unique temp names, and atomic JSON writes.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The last `lines` lines of a file, or '' when it cannot be read. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * A temp name beside `file`, unique per call (not only per process): two activities of one worker
 * writing the same file at once must not rename each other's temp file away.
 */
export const uniqueTempPath = (file: string): string => `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;

/**
 * Writes JSON so that a concurrent reader sees the old file or the new one, never half of either.
 */
export function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = uniqueTempPath(file);
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, file);
}
