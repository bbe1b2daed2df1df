// Reads a job's log file incrementally and picks out protocol events. The job writes straight
// into the file (not through a pipe to the worker), so a job whose worker died keeps running and
// keeps logging; whoever reads next carries on from the launch's offset.
import { appendFile, open, stat } from 'node:fs/promises';
import { parseEventLine, type JobEvent } from './backend.js';

/** Appends to one events file in turn: the readers of one process take turns on it. */
const writing = new Map<string, Promise<void>>();

/** Incremental reader of one launch's events, kept also in `eventsPath` when given. */
export class LogEventReader {
  private partial = '';
  readonly events: JobEvent[] = [];
  /** Byte length of the events file holding the first i events, for i = 0..events.length. */
  private readonly sizes = [0];

  constructor(
    private readonly logPath: string,
    private offset: number,
    private readonly eventsPath: string | null,
  ) {}

  /** Reads what was appended since the last call, up to `end` (where a later launch's output
   * starts) when given. `final` once the job has exited: a last line without a newline then counts. */
  async read(final: boolean, end?: number): Promise<void> {
    const size = Math.min(await stat(this.logPath).then((s) => s.size, () => 0), end ?? Infinity);
    if (size > this.offset) {
      const fh = await open(this.logPath, 'r');
      try {
        const buf = Buffer.alloc(size - this.offset);
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        this.offset += bytesRead;
        this.partial += buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await fh.close();
      }
    }
    const lines = this.partial.split('\n');
    this.partial = final ? '' : (lines.pop() ?? '');
    for (const line of lines) {
      const event = parseEventLine(line);
      if (!event) continue;
      this.events.push(event);
      this.sizes.push(this.sizes.at(-1)! + Buffer.byteLength(JSON.stringify(event) + '\n'));
    }
    if (this.eventsPath) await this.persist(this.eventsPath);
  }

  /**
   * Brings the events file up to date. Every reader of a launch sees the same events in the same
   * order, so the file's size says how many it already holds: a second reader (a restarted worker
   * reading from the launch's start) appends only what is missing instead of writing it all again.
   */
  private async persist(file: string): Promise<void> {
    const turn = (writing.get(file) ?? Promise.resolve()).then(async () => {
      const size = await stat(file).then((s) => s.size, () => null);
      const held = size === null ? -1 : indexOfSorted(this.sizes, size);
      if (held < 0 || held >= this.events.length) return; // gone, ahead of us, or not an event boundary
      await appendFile(file, this.events.slice(held).map((e) => JSON.stringify(e) + '\n').join(''));
    });
    const settled = turn.catch(() => undefined);
    writing.set(file, settled);
    await turn;
    if (writing.get(file) === settled) writing.delete(file);
  }
}

/** Index of `value` in an ascending array, or -1 (the sizes list grows with every event: no linear scan). */
function indexOfSorted(sorted: number[], value: number): number {
  let [lo, hi] = [0, sorted.length - 1];
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid]!;
    if (v === value) return mid;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The last `lines` lines of a text file, reading at most its last `maxBytes` (logs can be huge). */
export async function tailFile(file: string, lines: number, maxBytes = 256 * 1024): Promise<string> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    let text = buf.toString('utf8');
    if (start > 0) text = text.slice(text.indexOf('\n') + 1); // drop the cut first line
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    await fh.close();
  }
}
