// The single-node Ray head harness: it starts a real head whose Jobs API runs jobs, and stops it
// without leaving a Ray process or a job process behind (and without `ray stop`).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RayJobsClient } from '../../src/activities/jobs/ray-api.js';
import { startRayHead } from '../../src/stack/ray-head.js';
import { TempDirs, waitFor } from '../contracts/support.js';
import { isRunning } from '../jobs/support.js';
import { processesMentioning } from '../support/processes.js';

const dirs = new TempDirs();
afterAll(() => dirs.removeAll());

describe('Ray head harness', () => {
  it('starts a head on free ports that runs jobs, and stops leaving no process behind', async () => {
    const dir = dirs.make('slipway-ray-harness-');
    const head = await startRayHead({ logFile: path.join(dir, 'ray.log'), cpus: 1 });
    const ray = new RayJobsClient(head.address);
    const pidFile = path.join(dir, 'job.pid');
    let jobPid = 0;
    try {
      expect(head.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await ray.capacity()).toMatchObject({ cpus: 1, gpus: 0 });
      expect(processesMentioning(head.tempDir).length).toBeGreaterThan(0);
      // A job that runs until the head stops: it must go with it.
      await ray.submit({ submission_id: 'harness-job', entrypoint: `echo $$ > ${pidFile}; exec sleep 1000` });
      await waitFor(() => {
        try {
          jobPid = Number(readFileSync(pidFile, 'utf8'));
          return jobPid > 0;
        } catch {
          return false;
        }
      }, 'the job to start', 60_000);
      expect(isRunning(jobPid)).toBe(true);
    } finally {
      await head.stop();
    }
    await waitFor(() => !isRunning(jobPid), `the job process ${jobPid} to end with the head`, 30_000);
    expect(processesMentioning(head.tempDir)).toEqual([]);
  });
});
