// `slipway dev --slurm`: the embedded stack with a real single-node Slurm cluster whose worker offers
// `train.backend: slurm`; Ctrl-C stops the cluster's daemons with the rest.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/ports.js';
import { writeSpec } from '../integration/fixtures.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { killProcessesMentioning, processesMentioning, runCli, startCli } from '../support/processes.js';
import { endpointPort } from '../support/ports.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-dev-slurm-'));
const conf = path.join(dir, 'slurm', 'slurm.conf');
afterAll(async () => {
  await stopLocalDeployments(dir);
  killProcessesMentioning(dir);
  rmSync(dir, { recursive: true, force: true });
});

/** Live processes started with this cluster's SLURM_CONF (slurmctld, slurmd, slurmstepd, jobs). */
function slurmProcesses(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`SLURM_CONF=${conf}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('slipway dev --slurm', () => {
  it('starts a Slurm cluster its worker trains on, and Ctrl-C stops it', async () => {
    const temporalPort = await freePort();
    const dev = await startCli(['dev', '--slurm', '--no-mlflow', '--state-dir', dir, '--temporal-port', String(temporalPort), '--ui-port', String(await freePort())], {}, 'Press Ctrl-C to stop.', 180_000);
    expect(dev.output()).toContain(`Slurm:       SLURM_CONF=${conf}`);
    expect(execFileSync('sinfo', ['-h', '-o', '%t'], { env: { ...process.env, SLURM_CONF: conf }, encoding: 'utf8' }).trim()).toBe('idle');

    const countingJob = path.join(import.meta.dirname, '..', 'fixtures', 'jobs', 'counting-job.mjs');
    const spec = writeSpec({ name: 'dev-slurm', deployPort: await endpointPort(), mlflow: { enabled: false }, monitor: { duration: '2s', interval: '1s' }, train: { backend: 'slurm', command: [process.execPath, countingJob], params: { steps: 5, 'step-ms': 20 } } });
    const run = await runCli(['run', spec, '--release', 'r1', '--wait'], { TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}` });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const jobs = execFileSync('squeue', ['-h', '-t', 'all', '-o', '%j|%T'], { env: { ...process.env, SLURM_CONF: conf }, encoding: 'utf8' }).trim();
    expect(jobs).toBe('dev-slurm-r1-default|COMPLETED');

    expect(slurmProcesses().length).toBeGreaterThanOrEqual(2);
    expect(await dev.stop('SIGINT')).toBe(0);
    expect(slurmProcesses()).toEqual([]);
    expect((await runCli(['undeploy', 'dev-slurm', '--state-dir', dir])).code).toBe(0);
    expect(processesMentioning(dir)).toEqual([]);
  }, 300_000);
});
