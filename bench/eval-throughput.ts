// Throughput of the evaluation harness against autocannon, on the same fake model server, with the
// same request body, at several concurrencies. Both clients get the same number of requests, sized
// so that each run lasts several seconds (from a calibration run), and both are timed with our own
// clock from the first request to the last answer: autocannon's own duration is counted in 1-second
// ticks, which makes runs of a second or two look twice as fast or slow as they were. The server
// runs as its own process (as a model server does) so that neither client shares its event loop.
//   node --import tsx bench/eval-throughput.ts [--seconds 5] [--concurrency 1,16,64] [--rounds 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { runEvaluation } from '../src/activities/evaluation/harness.js';

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

/** The harness's own figure: attempts per second from its first send to its last answer. */
async function harness(n: number, concurrency: number): Promise<number> {
  const s = await runEvaluation({ endpoint, model: 'fake', datasetPath: dataset(n), concurrency, requestTimeoutMs: 30_000, maxRetries: 0, outputDir: path.join(dir, 'out'), runName: 'bench' });
  if (Object.keys(s.errors).length) throw new Error(`harness errors: ${JSON.stringify(s.errors)}`);
  return s.requests_per_second;
}

/** autocannon on our clock: requests answered over the wall time of the whole run. */
async function cannon(n: number, concurrency: number): Promise<number> {
  const started = performance.now();
  const r = await autocannon({ url: `${endpoint}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: concurrency, amount: n });
  const wall = (performance.now() - started) / 1000;
  if (r.non2xx || r.errors) throw new Error(`autocannon saw ${r.non2xx} non-2xx and ${r.errors} errors`);
  return r.requests.total / wall;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const mmm = (xs: number[]) => {
  const s = sorted(xs);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
};
const fmt = (x: { min: number; median: number; max: number }, digits = 0) => `${x.min.toFixed(digits)} / ${x.median.toFixed(digits)} / ${x.max.toFixed(digits)}`;

try {
  console.log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), runs of about ${seconds} s, ${rounds} rounds, harness and autocannon alternating`);
  console.log('| concurrency | requests per run | harness req/s (min / median / max) | autocannon req/s (min / median / max) | ratio of medians |');
  console.log('|---|---|---|---|---|');
  for (const concurrency of concurrencies) {
    // Warm-up and calibration: JIT and connections on both sides, then the size of a run.
    const probe = Math.max(await harness(2000, concurrency), await cannon(2000, concurrency));
    const n = Math.ceil((probe * seconds) / 1000) * 1000;
    const h: number[] = [];
    const a: number[] = [];
    for (let i = 0; i < rounds; i++) {
      h.push(await harness(n, concurrency));
      a.push(await cannon(n, concurrency));
    }
    const ratio = mmm(h).median / mmm(a).median;
    console.log(`| ${concurrency} | ${n} | ${fmt(mmm(h))} | ${fmt(mmm(a))} | ${ratio.toFixed(2)} |`);
  }
  console.log('target: harness / autocannon >= 0.8');
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
