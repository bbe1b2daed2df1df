// Reads a job's log file incrementally and picks out protocol events. The job writes straight
// into the file (not through a pipe to the worker), so a job whose worker died keeps running and
// keeps logging; whoever reads next carries on from the launch's offset.
import { appendFile, open, stat } from 'node:fs/promises';
import { parseEventLine, type JobEvent } from './backend.js';

/** Incremental reader of one launch's events; appends each event it finds to `eventsPath`. */
export class LogEventReader {
  private partial = '';
  readonly events: JobEvent[] = [];

  constructor(
    private readonly logPath: string,
    private offset: number,
    private readonly eventsPath: string,
  ) {}

  /** Reads what was appended since the last call. `final` once the job has exited: a last line
   * without a newline then counts too. */
  async read(final: boolean): Promise<void> {
    const size = await stat(this.logPath).then((s) => s.size, () => 0);
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
    const found: JobEvent[] = [];
    for (const line of lines) {
      const event = parseEventLine(line);
      if (event) found.push(event);
    }
    if (found.length > 0) {
      this.events.push(...found);
      await appendFile(this.eventsPath, found.map((e) => JSON.stringify(e) + '\n').join(''));
    }
  }
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
