// The Ray head the test files of one vitest run share: started by the first file that needs one, kept
// running for the next (starting a head costs tens of seconds, most of a Ray test file's time), and
// stopped by the global teardown (test/global-setup.ts). Files run one at a time (vitest.config.ts:
// fileParallelism false), so each has the head to itself while it runs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withLock } from '../../src/activities/file-lock.js';
import { RayJobsClient } from '../../src/activities/jobs/ray-api.js';
import { nodeAlive, startRayHead, stopDetachedRayHead } from '../../src/stack/ray-head.js';

/** CPUs of the shared head: a job asking for all of them takes its only slot. */
export const RAY_CPUS = 2;

interface HeadRecord {
  address: string;
  pid: number;
  tempDir: string;
}

const folder = (servicesDir: string) => path.join(servicesDir, 'ray-head');
const recordFile = (servicesDir: string) => path.join(folder(servicesDir), 'head.json');

function readRecord(servicesDir: string): HeadRecord | null {
  const file = recordFile(servicesDir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as HeadRecord) : null;
}

/**
 * The run's head, started now if there is none (or the one there stopped answering). Jobs an earlier
 * file left live are stopped first, so that its failure cannot hold this file's slot.
 */
export async function sharedRayHead(servicesDir: string): Promise<string> {
  return withLock(folder(servicesDir), async () => {
    const known = readRecord(servicesDir);
    if (known && (await nodeAlive(known.address).catch(() => false))) {
      const ray = new RayJobsClient(known.address);
      for (const job of await ray.list()) if (job.status === 'PENDING' || job.status === 'RUNNING') await ray.stop(job.submission_id);
      return known.address;
    }
    if (known) await stopDetachedRayHead(known);
    const head = await startRayHead({ logFile: path.join(folder(servicesDir), 'ray.log'), cpus: RAY_CPUS, gpus: 0, outlive: true });
    const record: HeadRecord = { address: head.address, pid: head.process.child.pid!, tempDir: head.tempDir };
    writeFileSync(recordFile(servicesDir), JSON.stringify(record));
    return head.address;
  });
}

/** Stops the run's head, if a file started one (global teardown). */
export async function stopSharedRayHead(servicesDir: string): Promise<void> {
  const known = readRecord(servicesDir);
  if (known) await stopDetachedRayHead(known);
}
