// Writes per-row results as JSONL in dataset order (answers arrive out of order at concurrency > 1)
// and hashes exactly the bytes written. The file appears under its final name only when complete,
// so a retried activity never reads a half-written artifact.
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { uniqueTempPath } from '../../system/files.js';

const FLUSH_BYTES = 64 * 1024;

export class ResultsWriter {
  private readonly pending = new Map<number, string>();
  private nextIndex = 0;
  private buffer = '';
  private readonly hash = createHash('sha256');
  /** The stream's first error (a failed write, or writes cut off by `discard`); `finish` rethrows it. */
  private failure: Error | undefined;

  private constructor(
    readonly finalPath: string,
    private readonly tmpPath: string,
    private readonly stream: WriteStream,
  ) {
    // Without a listener a stream error is thrown as an uncaught exception, which kills the worker:
    // destroying the stream while a write is in flight (a cancelled run) raises ERR_STREAM_DESTROYED.
    stream.on('error', (err) => (this.failure ??= err));
  }

  static async open(dir: string, name: string): Promise<ResultsWriter> {
    await mkdir(dir, { recursive: true });
    const finalPath = path.resolve(dir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl`);
    // Unique per writer: a retried evaluation may start while the attempt it replaces still writes.
    const tmpPath = uniqueTempPath(finalPath);
    return new ResultsWriter(finalPath, tmpPath, createWriteStream(tmpPath));
  }

  /** Adds row `index`'s record; it is written once every earlier row has been. */
  add(index: number, record: object): void {
    const line = JSON.stringify(record) + '\n';
    if (index !== this.nextIndex) return void this.pending.set(index, line);
    this.buffer += line;
    this.nextIndex++;
    for (let held = this.pending.get(this.nextIndex); held !== undefined; held = this.pending.get(this.nextIndex)) {
      this.pending.delete(this.nextIndex++);
      this.buffer += held;
    }
    if (this.buffer.length >= FLUSH_BYTES) this.flush();
  }

  /** Closes the file under its final name and returns its `sha256:` digest. */
  async finish(): Promise<string> {
    this.flush();
    this.stream.end();
    await this.closed();
    if (this.failure) throw this.failure;
    await rename(this.tmpPath, this.finalPath);
    return `sha256:${this.hash.digest('hex')}`;
  }

  /** Drops the partial file (cancelled or failed run). */
  async discard(): Promise<void> {
    this.stream.destroy();
    await this.closed();
    await rm(this.tmpPath, { force: true });
  }

  /** Resolves once the file is closed; unlike `events.once`, an 'error' before 'close' does not reject it. */
  private closed(): Promise<void> {
    return this.stream.closed ? Promise.resolve() : new Promise((resolve) => this.stream.once('close', () => resolve()));
  }

  private flush(): void {
    if (!this.buffer) return;
    // Encoded once: hashing and writing the string would each encode it to UTF-8 again.
    const bytes = Buffer.from(this.buffer, 'utf8');
    this.hash.update(bytes);
    this.stream.write(bytes);
    this.buffer = '';
  }
}
