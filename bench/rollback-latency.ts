// Time from a live model server's death to the automatic rollback, against what the spec promises:
// breaches_to_rollback × interval. Each round deploys two releases of one pipeline on a real dev
// server and worker, SIGKILLs the second one's model server while it is monitored, and measures
// (a) the rollback's own timestamp and (b) the first 200 from the stable endpoint, both from the kill.
//   node --import tsx bench/rollback-latency.ts [--rounds 3] [--interval 1] [--breaches 3]
import { Client, Connection } from '@temporalio/client';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { DeploymentState } from '../src/activities/deploy/state.js';
import { SlipwayClient } from '../src/client/slipway-client.js';
import { loadSpec } from '../src/client/spec-file.js';
import { startTemporalDevServer } from '../src/stack/temporal-server.js';
import { freePort } from '../src/system/ports.js';
import type { ReleaseResult } from '../src/workflows/release-pipeline.js';
import { writeSpec } from '../test/integration/fixtures.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, interval: { type: 'string', default: '1' }, breaches: { type: 'string', default: '3' } } });
const [rounds, intervalS, breaches] = [Number(values.rounds), Number(values.interval), Number(values.breaches)];
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-rollback-'));
const stateDir = path.join(dir, 'state');

const temporal = await startTemporalDevServer({ port: await freePort(), logFile: path.join(dir, 'temporal.log') });
const worker = spawn(process.execPath, ['--import', 'tsx', 'src/client/cli.ts', 'worker', '--address', temporal.address, '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'ignore'] });
await new Promise<void>((resolve) => worker.stdout!.on('data', (d: Buffer) => d.toString().includes('polling') && resolve()));
const connection = await Connection.connect({ address: temporal.address });
const slipway = new SlipwayClient(new Client({ connection }));

const rollbackMs: number[] = [];
const servingMs: number[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    const name = `rollback-bench-${round}`;
    const port = await freePort();
    const common = { name, deployPort: port, mlflow: { enabled: false } };
    const first = await slipway.start(loadSpec(writeSpec({ ...common, monitor: { duration: '1s', interval: '1s' } })), { release: 'r1' });
    await slipway.result(first.workflowId);
    const second = await slipway.start(loadSpec(writeSpec({ ...common, monitor: { duration: '10m', interval: `${intervalS}s`, breaches_to_rollback: breaches } })), { release: 'r2' });
    let live: string | undefined;
    while (!live) {
      const v = await slipway.status(second.workflowId);
      if (v.stage === 'monitoring' && (v.monitor?.samples ?? 0) >= 1) live = v.deployment?.version;
      else await sleep(50);
    }
    const state = JSON.parse(readFileSync(path.join(stateDir, 'deployments', name, 'state.json'), 'utf8')) as DeploymentState;
    const killedAt = Date.now();
    process.kill(-state.versions[live]!.pid!, 'SIGKILL');
    // The stable endpoint answers again once the previous version serves.
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', body: '{"messages":[{"role":"user","content":"hi"}]}', signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
      if (ok) break;
      await sleep(20);
    }
    servingMs.push(Date.now() - killedAt);
    const res = (await slipway.result(second.workflowId)) as ReleaseResult;
    if (res.status !== 'rolled-back') throw new Error(`round ${round}: ${res.status}`);
    rollbackMs.push(Date.parse(res.report.rollback!.at) - killedAt);
    console.log(`round ${round + 1}: rollback recorded ${rollbackMs.at(-1)} ms after the kill, endpoint serving again after ${servingMs.at(-1)} ms`);
  }
  const mmm = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${s[0]} / ${s[Math.floor(s.length / 2)]} / ${s.at(-1)} ms`;
  };
  const promise = breaches * intervalS * 1000;
  console.log(`\n${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), breaches_to_rollback ${breaches} × interval ${intervalS}s = ${promise} ms; ${rounds} rounds`);
  console.log(`kill → rollback recorded (min / median / max): ${mmm(rollbackMs)}   (target: <= ${promise + 1000} ms)`);
  console.log(`kill → endpoint serving the previous version:  ${mmm(servingMs)}`);
} finally {
  await connection.close();
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
  const { stopLocalDeployments } = await import('../test/support/deployments.js');
  await stopLocalDeployments(stateDir);
  await temporal.stop();
  rmSync(dir, { recursive: true, force: true });
}
