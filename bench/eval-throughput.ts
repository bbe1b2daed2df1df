// Throughput of the evaluation harness against autocannon, on the same fake model server, with the
// same request body, at several concurrencies, over equal durations of several seconds, timed on our
// own clock: autocannon runs in duration mode (its -a amount mode rounds its end up to a 1-second
// tick) and its requests are divided by the wall time around the whole run; the harness runs on a
// dataset larger than it can finish and is stopped after the same duration, counting the answers
// from its first to the stop. Between them runs the harness's HTTP client alone (undici dispatch,
// JSON.parse of each answer), to show how much of any gap is the client. The server runs as its own
// process (as a model server does) so that no client shares its event loop.
//   npm run build && node --import tsx bench/eval-throughput.ts [--seconds 5] [--concurrency 1,16,64] [--rounds 3]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import type { runEvaluation as RunEvaluation } from '../src/activities/evaluation/harness.js';

// The harness as it ships: the build. Run through tsx, every closure the harness makes per request
// also gets esbuild's __name() wrapper, which slows it.
const built = path.resolve('dist/activities/evaluation/harness.js');
if (!existsSync(built)) throw new Error('no build in dist/: run `npm run build` first');
const { runEvaluation } = (await import(built)) as { runEvaluation: typeof RunEvaluation };

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '1,16,64' }, rounds: { type: 'string', default: '3' } } });
const seconds = Number(values.seconds);
const concurrencies = values.concurrency.split(',').map(Number);
const rounds = Number(values.rounds);

const server = spawn(process.execPath, ['--import', 'tsx', 'test/support/openai-server-main.ts', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const ready = await new Promise<{ port: number }>((resolve, reject) => {
  server.once('exit', (code) => reject(new Error(`fake server exited with ${code}`)));
  createInterface({ input: server.stdout! }).once('line', (line) => resolve(JSON.parse(line) as { port: number }));
});
const endpoint = `http://127.0.0.1:${ready.port}`;
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-'));

// One prompt for every row, so both clients send byte-identical bodies.
const messages = [{ role: 'user', content: 'What is 2 + 2?' }];
const body = JSON.stringify({ model: 'fake', messages, temperature: 0 });

function dataset(n: number): string {
  const file = path.join(dir, `rows-${n}.jsonl`);
  writeFileSync(file, `${JSON.stringify({ messages, expected: 'echo: What is 2 + 2?' })}\n`.repeat(n));
  return file;
}

/** The harness for `seconds`: answers per second from its first answer until it is stopped; undefined when it finished the dataset first. */
async function harness(rows: string, concurrency: number): Promise<number | undefined> {
  const stop = new AbortController();
  let first: { at: number; done: number } | undefined;
  let last = { at: 0, done: 0 };
  const run = runEvaluation(
    { endpoint, model: 'fake', datasetPath: rows, concurrency, requestTimeoutMs: 30_000, maxRetries: 0, outputDir: path.join(dir, 'out'), runName: 'bench' },
    {
      signal: stop.signal,
      onProgress: ({ done }) => {
        last = { at: performance.now(), done };
        if (!first) {
          first = last;
          setTimeout(() => stop.abort(new Error('duration reached')), seconds * 1000);
        }
      },
    },
  );
  const finished = await run.then(() => true, (err: unknown) => (stop.signal.aborted ? false : Promise.reject(err)));
  if (finished) return undefined;
  return (last.done - first!.done) / ((last.at - first!.at) / 1000);
}

/**
 * The harness's HTTP client alone: the same undici Pool `dispatch` calls, each answer's JSON parsed and
 * nothing more, `concurrency` loops for `durationS`. Shows how much of the gap is the client and how
 * much the harness's own work per answer.
 */
async function bareClient(concurrency: number, durationS: number): Promise<number> {
  const pool = new Pool(endpoint, { connections: concurrency, pipelining: 1 });
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const chunks: Buffer[] = [];
      pool.dispatch(
        { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body },
        {
          // The handler API the harness uses (undici tells it apart from the legacy one by this method).
          onRequestStart: () => undefined,
          onResponseData: (_c, chunk) => void chunks.push(chunk),
          onResponseEnd: () => {
            JSON.parse(Buffer.concat(chunks).toString('utf8'));
            resolve();
          },
          onResponseError: (_c, err) => reject(err),
        },
      );
    });
  let answered = 0;
  const started = performance.now();
  const end = started + durationS * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await one();
      answered++;
    }
  }));
  const rate = answered / ((performance.now() - started) / 1000);
  await pool.close();
  return rate;
}

/** autocannon in duration mode, on our clock: requests answered over the wall time of the whole run. */
async function cannon(concurrency: number, durationS: number): Promise<number> {
  const started = performance.now();
  const r = await autocannon({ url: `${endpoint}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: concurrency, duration: durationS });
  const wall = (performance.now() - started) / 1000;
  if (r.non2xx || r.errors) throw new Error(`autocannon saw ${r.non2xx} non-2xx and ${r.errors} errors`);
  return r.requests.total / wall;
}

/** The harness's rate on a short warm-up, to size a dataset it cannot finish in `seconds`. */
async function warmUp(concurrency: number): Promise<number> {
  const s = await runEvaluation({ endpoint, model: 'fake', datasetPath: dataset(2000), concurrency, requestTimeoutMs: 30_000, maxRetries: 0, outputDir: path.join(dir, 'out'), runName: 'warm' });
  await cannon(concurrency, 1);
  return s.requests_per_second;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const mmm = (xs: number[]) => {
  const s = sorted(xs);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
};
const fmt = (x: { min: number; median: number; max: number }, digits = 0) => `${x.min.toFixed(digits)} / ${x.median.toFixed(digits)} / ${x.max.toFixed(digits)}`;

try {
  console.log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${seconds} s per run, ${rounds} rounds, harness, its client alone and autocannon in turn`);
  console.log('| concurrency | harness req/s (min / median / max) | its HTTP client alone | autocannon | harness / autocannon (medians) | client alone / autocannon |');
  console.log('|---|---|---|---|---|---|');
  for (const concurrency of concurrencies) {
    // The warm-up runs cold (JIT, connections): size generously so the timed run cannot finish early.
    let size = Math.max(100_000, Math.ceil(((await warmUp(concurrency)) * seconds * 5) / 1000) * 1000);
    let rows = dataset(size);
    const h: number[] = [];
    const b: number[] = [];
    const a: number[] = [];
    for (let i = 0; i < rounds; i++) {
      // A warm-up far slower than the warm harness can leave the dataset too small: grow it and run again.
      let rate: number | undefined;
      while ((rate = await harness(rows, concurrency)) === undefined) rows = dataset((size *= 2));
      h.push(rate);
      b.push(await bareClient(concurrency, seconds));
      a.push(await cannon(concurrency, seconds));
    }
    const ratio = (xs: number[]) => (mmm(xs).median / mmm(a).median).toFixed(2);
    console.log(`| ${concurrency} | ${fmt(mmm(h))} | ${fmt(mmm(b))} | ${fmt(mmm(a))} | ${ratio(h)} | ${ratio(b)} |`);
  }
  console.log('target: harness / autocannon >= 0.8');
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
