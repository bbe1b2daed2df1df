// Reading the end of a log file, for error messages (a server that failed to start, a stack part that died).
import { readFileSync } from 'node:fs';

/** The last `lines` lines of a file, or '' when it cannot be read. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
