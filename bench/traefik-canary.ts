// What Traefik costs and how fast an abort lands, on the local deploy target with the fake model
// server (its own process) as each version:
//  1. latency added by Traefik: the same open-loop load (--rate req/s for --seconds) straight to the
//     model server and through the stable endpoint, alternated for --rounds rounds; p50 and p99 of each.
//  2. abort: a canary at 50% under the same load; setCanary(0) is called and we time (a) the call,
//     which returns once Traefik's API shows the new routes, and (b) the start of the last request
//     the canary still answered, both from the moment the abort was called.
//   node --import tsx bench/traefik-canary.ts [--rate 1000] [--seconds 5] [--rounds 3]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { LocalDeployTarget } from '../src/activities/deploy/local.js';
import { freePort } from '../src/system/ports.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' } } });
const [rate, seconds, rounds] = [Number(values.rate), Number(values.seconds), Number(values.rounds)];
const repo = path.resolve(import.meta.dirname, '..');
const serve = {
  command: [process.execPath, '--import', 'tsx', path.join(repo, 'test/support/openai-server-main.ts'), '--port', '{port}', '--model', '{model}'],
  cwd: repo,
  healthPath: '/health',
  startupTimeoutMs: 60_000,
};
const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'What is 2 + 2?' }] });

interface Sample {
  start: number;
  ms: number;
  version: string | null;
  status: number;
}

/** Open loop: requests start on schedule whatever the answers do (no coordinated omission). */
async function load(url: string, ms: number, onStart?: (elapsed: number) => void): Promise<Sample[]> {
  const pool = new Pool(url, { connections: 64 });
  const samples: Sample[] = [];
  const inflight: Array<Promise<void>> = [];
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < ms) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      const start = performance.now();
      onStart?.(start - t0);
      inflight.push(
        pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body }).then(async (res) => {
          await res.body.arrayBuffer();
          samples.push({ start, ms: performance.now() - start, version: (res.headers['x-slipway-version'] as string | undefined) ?? null, status: res.statusCode });
        }),
      );
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  await pool.close();
  return samples;
}

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] as number;
const mmm = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(3)}  median ${s[Math.floor(s.length / 2)]!.toFixed(3)}  max ${s.at(-1)!.toFixed(3)}`;
};

const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-traefik-'));
const target = new LocalDeployTarget({ stateDir });
const name = 'bench';
try {
  const port = await freePort();
  const stable = await target.ensureCandidate({ deploymentName: name, version: 'stable', artifactPath: '/m/stable', serve });
  await target.ensureCandidate({ deploymentName: name, version: 'canary', artifactPath: '/m/canary', serve });
  await target.promote({ deploymentName: name, version: 'stable', port });
  const viaTraefik = `http://127.0.0.1:${port}`;
  await load(stable.endpoint, 1000);
  await load(viaTraefik, 1000); // warm-up of both paths

  const direct: Array<{ p50: number; p99: number }> = [];
  const traefik: Array<{ p50: number; p99: number }> = [];
  for (let i = 0; i < rounds; i++) {
    for (const [url, into] of [[stable.endpoint, direct], [viaTraefik, traefik]] as const) {
      const s = await load(url, seconds * 1000);
      if (s.some((x) => x.status !== 200)) throw new Error(`${url}: non-200 answers`);
      const ms = s.map((x) => x.ms);
      into.push({ p50: pct(ms, 0.5), p99: pct(ms, 0.99) });
    }
    console.log(`round ${i + 1}: direct p50 ${direct[i]!.p50.toFixed(3)} p99 ${direct[i]!.p99.toFixed(3)} ms | Traefik p50 ${traefik[i]!.p50.toFixed(3)} p99 ${traefik[i]!.p99.toFixed(3)} ms`);
  }

  const calls: number[] = [];
  const lastCanary: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await target.setCanary({ deploymentName: name, version: 'canary', weight: 50, port });
    let abortAt = Infinity;
    let called: Promise<number> | undefined;
    const samples = await load(viaTraefik, 3000, (elapsed) => {
      if (elapsed > 1500 && !called) {
        abortAt = performance.now();
        called = target.setCanary({ deploymentName: name, version: 'canary', weight: 0, port }).then(() => performance.now() - abortAt);
      }
    });
    calls.push(await called!);
    const after = samples.filter((x) => x.version === 'canary' && x.start >= abortAt).map((x) => x.start - abortAt);
    lastCanary.push(after.length ? Math.max(...after) : 0);
    console.log(`abort ${i + 1}: call returned after ${calls[i]!.toFixed(1)} ms; last request answered by the canary started ${lastCanary[i]!.toFixed(1)} ms after the call (${after.length} such)`);
  }

  const p = (xs: Array<{ p50: number; p99: number }>, k: 'p50' | 'p99') => xs.map((x) => x[k]);
  const added = (k: 'p50' | 'p99') => traefik.map((t, i) => t[k] - direct[i]![k]);
  console.log(`\n${rate} req/s open loop for ${seconds}s, ${rounds} rounds (${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? '?'}), latency in ms`);
  console.log(`direct   p50 ${mmm(p(direct, 'p50'))}   p99 ${mmm(p(direct, 'p99'))}`);
  console.log(`Traefik  p50 ${mmm(p(traefik, 'p50'))}   p99 ${mmm(p(traefik, 'p99'))}`);
  console.log(`added    p50 ${mmm(added('p50'))}   p99 ${mmm(added('p99'))}   (goal < 1 ms each)`);
  console.log(`ratio    p50 ${mmm(traefik.map((t, i) => t.p50 / direct[i]!.p50))}   p99 ${mmm(traefik.map((t, i) => t.p99 / direct[i]!.p99))}`);
  console.log(`abort: setCanary(0) until Traefik shows it   ${mmm(calls)} ms   (goal < 1000 ms)`);
  console.log(`abort: last canary answer started after call ${mmm(lastCanary)} ms`);
} finally {
  await target.stopAll({ deploymentName: name });
  rmSync(stateDir, { recursive: true, force: true });
}
