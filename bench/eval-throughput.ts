// Throughput of the evaluation harness against autocannon, on the same fake model server, at the
// same concurrency, with the same request body and the same number of requests. The server runs
// as its own process (as a model server does) so that neither client shares its event loop.
//   node --import tsx bench/eval-throughput.ts [--requests 20000] [--concurrency 16] [--rounds 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { runEvaluation } from '../src/activities/evaluation/harness.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '16' }, rounds: { type: 'string', default: '3' } } });
const [requests, concurrency, rounds] = [Number(values.requests), Number(values.concurrency), Number(values.rounds)];

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
const dataset = path.join(dir, 'bench.jsonl');
writeFileSync(dataset, `${JSON.stringify({ messages, expected: 'echo: What is 2 + 2?' })}\n`.repeat(requests));

async function harness(n: number) {
  const file = n === requests ? dataset : path.join(dir, 'warm.jsonl');
  if (n !== requests) writeFileSync(file, `${JSON.stringify({ messages, expected: 'x' })}\n`.repeat(n));
  const started = performance.now();
  const s = await runEvaluation({ endpoint, model: 'fake', datasetPath: file, concurrency, requestTimeoutMs: 30_000, maxRetries: 0, outputDir: path.join(dir, 'out'), runName: 'bench' });
  const wall = (performance.now() - started) / 1000;
  if (Object.keys(s.errors).length) throw new Error(`harness errors: ${JSON.stringify(s.errors)}`);
  return { rps: s.requests_per_second, endToEnd: s.total / wall, p99: s.latency_p99_ms };
}

async function cannon(n: number) {
  const started = performance.now();
  const r = await autocannon({ url: `${endpoint}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: concurrency, amount: n });
  // Our own clock: autocannon's `duration` is coarse for runs of about a second.
  const wall = (performance.now() - started) / 1000;
  if (r.non2xx || r.errors) throw new Error(`autocannon saw ${r.non2xx} non-2xx and ${r.errors} errors`);
  return { rps: r.requests.total / wall, p99: r.latency.p99 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
try {
  await harness(2000); // warm-up: JIT and connections on both sides
  await cannon(2000);
  const h: Array<Awaited<ReturnType<typeof harness>>> = [];
  const a: Array<Awaited<ReturnType<typeof cannon>>> = [];
  for (let i = 0; i < rounds; i++) {
    h.push(await harness(requests));
    a.push(await cannon(requests));
    console.log(`round ${i + 1}: harness ${h[i]!.rps.toFixed(0)} req/s (end-to-end ${h[i]!.endToEnd.toFixed(0)}), autocannon ${a[i]!.rps.toFixed(0)} req/s`);
  }
  const [hr, ar] = [median(h.map((x) => x.rps)), median(a.map((x) => x.rps))];
  console.log(`\n${requests} requests, concurrency ${concurrency}, median of ${rounds} rounds (${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? '?'})`);
  console.log(`harness     ${hr.toFixed(0)} req/s   (end-to-end incl. dataset + results file: ${median(h.map((x) => x.endToEnd)).toFixed(0)} req/s, p99 ${median(h.map((x) => x.p99)).toFixed(2)} ms)`);
  console.log(`autocannon  ${ar.toFixed(0)} req/s   (p99 ${median(a.map((x) => x.p99)).toFixed(2)} ms)`);
  console.log(`ratio       ${(hr / ar).toFixed(3)}   (target >= 0.8)`);
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
