// Which release owns each evaluation server running as a cluster job (`evaluate.serve_on: cluster`),
// one file per job in `<stateDir>/cluster-servers/`. A release's workflow stops its server job once
// evaluated; a release ended from outside (terminated, reset, timed out) can stop nothing any more,
// and its job would hold its cluster slot (a GPU) until the cluster's own time limit, if any. The
// gpu worker's reconciler reads these records and stops the jobs of releases that no longer run.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../../system/files.js';
import type { ReleaseRunning } from '../deploy/reconciler.js';
import type { JobBackend, JobHandle } from './backend.js';

export interface ClusterServerRecord {
  /** The owning release's workflow id. */
  owner: string;
  backend: string;
  job: JobHandle;
}

/** The records of the worker whose state dir is `stateDir`. */
export const clusterServerRecords = (stateDir: string) => new ClusterServerRecords(path.join(stateDir, 'cluster-servers'));

export class ClusterServerRecords {
  constructor(readonly dir: string) {}

  add(record: ClusterServerRecord): void {
    writeJsonAtomic(this.file(record.job.name), record);
  }

  remove(jobName: string): void {
    rmSync(this.file(jobName), { force: true });
  }

  list(): ClusterServerRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return []; // no server job launched yet
    }
    return names.flatMap((name) => {
      try {
        return [JSON.parse(readFileSync(path.join(this.dir, name), 'utf8')) as ClusterServerRecord];
      } catch {
        return []; // removed while we listed
      }
    });
  }

  private file(jobName: string): string {
    return path.join(this.dir, `${jobName.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  }
}

/**
 * One reconcile pass: cancels the server jobs whose release no longer runs and forgets them. Returns
 * the records of the jobs it stopped. A release Temporal cannot tell about now keeps its job, and so
 * does one on a backend this worker does not have (the worker that launched it stops it).
 */
export async function stopOrphanedClusterServers(
  records: ClusterServerRecords,
  backends: Record<string, JobBackend>,
  isRunning: ReleaseRunning,
  onError: (err: unknown) => void,
): Promise<ClusterServerRecord[]> {
  const stopped: ClusterServerRecord[] = [];
  for (const record of records.list()) {
    const backend = backends[record.backend];
    try {
      if (!backend || (await isRunning(record.owner)) !== false) continue;
      await backend.cancel(record.job);
      records.remove(record.job.name);
      stopped.push(record);
    } catch (err) {
      onError(err); // this job is tried again next pass; the others go on
    }
  }
  return stopped;
}
