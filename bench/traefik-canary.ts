// What Traefik costs and how fast an abort lands, on the local deploy target with the fake model
// server (its own process) as each version:
//  1. latency added by Traefik: the same open-loop load (--rate req/s for --seconds) straight to the
//     model server and through the stable endpoint, both in each of --rounds rounds (the order swapped
//     every round); p50 and p99 of each, what Traefik adds and the ratio, min/median/max over rounds.
//  2. abort: under the same load a canary that answers 5xx takes 50%; at its first failing answer
//     setCanary(0) is called (the decision taken at once: the router's part of an abort), and from
//     that answer we time (a) the call, which returns once Traefik's API shows 0%, and (b) the start of
//     the last request the canary still answered: after it, the canary gets nothing.
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
const prompt = 'What is 2 + 2?';
const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: prompt }] });
/** The canary fails exactly the load's prompt with a 500. */
const failingServe = { ...serve, command: [...serve.command, '--fail-prompt', prompt] };

interface Sample {
  start: number;
  ms: number;
  version: string | null;
  status: number;
}

/** Open loop: requests start on schedule whatever the answers do (no coordinated omission). */
async function load(url: string, ms: number, hooks: { onTick?: (elapsed: number) => void; onAnswer?: (s: Sample, at: number) => void; done?: () => boolean } = {}): Promise<Sample[]> {
  const pool = new Pool(url, { connections: 64 });
  const samples: Sample[] = [];
  const inflight: Array<Promise<void>> = [];
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < ms && !hooks.done?.()) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      const start = performance.now();
      inflight.push(
        pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body }).then(async (res) => {
          await res.body.arrayBuffer();
          const at = performance.now();
          const sample = { start, ms: at - start, version: (res.headers['x-slipway-version'] as string | undefined) ?? null, status: res.statusCode };
          samples.push(sample);
          hooks.onAnswer?.(sample, at);
        }),
      );
    }
    hooks.onTick?.(performance.now() - t0);
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
  await target.ensureCandidate({ deploymentName: name, version: 'canary', artifactPath: '/m/canary', serve: failingServe });
  await target.promote({ deploymentName: name, version: 'stable', port });
  const viaTraefik = `http://127.0.0.1:${port}`;
  await load(stable.endpoint, 1000);
  await load(viaTraefik, 1000); // warm-up of both paths

  const direct: Array<{ p50: number; p99: number }> = [];
  const traefik: Array<{ p50: number; p99: number }> = [];
  const loadBefore = os.loadavg();
  for (let i = 0; i < rounds; i++) {
    const pair = [[stable.endpoint, direct], [viaTraefik, traefik]] as const;
    // Swapped every round, so neither path always runs on the warmer or the quieter second.
    for (const [url, into] of i % 2 ? [...pair].reverse() : pair) {
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
    let firstFailure = Infinity;
    let weighted: Promise<number> | undefined;
    let called: Promise<number> | undefined;
    let settledAt = Infinity;
    // Until a second after Traefik shows 0% (at most 30 s): a loaded machine may take seconds to apply 50%.
    const samples = await load(viaTraefik, 30_000, {
      done: () => performance.now() > settledAt + 1000,
      // A second of stable traffic, then the failing canary takes 50%.
      onTick: (elapsed) => {
        if (elapsed > 1000 && !weighted) weighted = target.setCanary({ deploymentName: name, version: 'canary', weight: 50, port }).then(() => performance.now());
      },
      onAnswer: (sample, at) => {
        if (sample.status === 200 || called) return;
        firstFailure = at;
        called = target.setCanary({ deploymentName: name, version: 'canary', weight: 0, port }).then(() => {
          settledAt = performance.now();
          return settledAt - firstFailure;
        });
      },
    });
    if (!called) throw new Error('the canary never answered: no failure to abort on');
    calls.push(await called);
    // The abort waits on the deployment's lock while the 50% call still polls Traefik's API: say how much of the figure that is.
    const weightReturned = (await weighted!) - firstFailure;
    const canary = samples.filter((x) => x.version === 'canary');
    if (canary.some((x) => x.status === 200)) throw new Error('the canary answered 200: it should fail every request');
    // 0 when the canary got no request after the first 5xx came back (answers can arrive late on a busy machine).
    lastCanary.push(Math.max(0, Math.max(...canary.map((x) => x.start)) - firstFailure));
    const after = canary.filter((x) => x.start + x.ms > firstFailure).length;
    console.log(
      `abort ${i + 1}: from the first 5xx, Traefik showed 0% after ${calls[i]!.toFixed(1)} ms; the canary got its last request ${lastCanary[i]!.toFixed(1)} ms after it (${after} failed answers after the first, of ${canary.length}; the 50% call returned ${weightReturned.toFixed(1)} ms after the first 5xx)`,
    );
  }
  const loadAfter = os.loadavg();

  const p = (xs: Array<{ p50: number; p99: number }>, k: 'p50' | 'p99') => xs.map((x) => x[k]);
  const added = (k: 'p50' | 'p99') => traefik.map((t, i) => t[k] - direct[i]![k]);
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`\n${rate} req/s open loop for ${seconds}s, ${rounds} rounds (${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? '?'}), latency in ms`);
  console.log(`load average (1/5/15 min) before ${la(loadBefore)}, after ${la(loadAfter)}`);
  console.log(`direct   p50 ${mmm(p(direct, 'p50'))}   p99 ${mmm(p(direct, 'p99'))}`);
  console.log(`Traefik  p50 ${mmm(p(traefik, 'p50'))}   p99 ${mmm(p(traefik, 'p99'))}`);
  console.log(`added    p50 ${mmm(added('p50'))}   p99 ${mmm(added('p99'))}   (goal < 1 ms each)`);
  console.log(`ratio    p50 ${mmm(traefik.map((t, i) => t.p50 / direct[i]!.p50))}   p99 ${mmm(traefik.map((t, i) => t.p99 / direct[i]!.p99))}`);
  console.log(`abort: first 5xx → Traefik shows 0% canary          ${mmm(calls)} ms   (goal < 1000 ms, one router update)`);
  console.log(`abort: first 5xx → the canary's last request        ${mmm(lastCanary)} ms`);
} finally {
  await target.stopAll({ deploymentName: name });
  rmSync(stateDir, { recursive: true, force: true });
}
