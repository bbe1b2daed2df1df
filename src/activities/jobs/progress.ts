// Folds a launch's protocol events into what the activity heartbeats and returns.
import { storedRef, type ArtifactEvent, type CheckpointEvent, type JobEvent, type ProgressEvent, type ResumedEvent } from './backend.js';
import { DVC_PULL_FAILED } from './dvc.js';
import type { LossPoint, TrainHeartbeat } from './types.js';

export const MAX_LOSS_POINTS = 200;

/** Evenly spaced points of `points`, first and last included, at most `max` of them. */
export function downsample<T>(points: T[], max = MAX_LOSS_POINTS): T[] {
  if (points.length <= max) return points.slice();
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.round((i * (points.length - 1)) / (max - 1))] as T);
  return out;
}

export class TrainProgress {
  step: number | null = null;
  totalSteps: number | null = null;
  loss: number | null = null;
  checkpoint: string | null;
  checkpointStep: number | null;
  checkpointRef: TrainHeartbeat['checkpointRef'];
  resumedStep: number | null = null;
  artifact: ArtifactEvent | null = null;
  readonly losses: LossPoint[] = [];
  job: TrainHeartbeat['job'];
  /** Why the job's inputs could not be had on its host (the DVC wrapper's report), if they could not. */
  dataError: string | null = null;

  /** `resume` seeds the checkpoint, so a retry that dies before its first checkpoint still
   * heartbeats the one it resumed from, and the attempt after it does not start over. */
  constructor(resume: { checkpoint: string; step: number | null; ref?: TrainHeartbeat['checkpointRef'] } | null) {
    this.checkpoint = resume?.checkpoint ?? null;
    this.checkpointStep = resume?.step ?? null;
    // A checkpoint fetched to a new local path keeps its stored ref: nothing to upload again.
    this.checkpointRef = resume?.ref ? { ...resume.ref, path: resume.checkpoint } : null;
  }

  /** Records where the job is on the cluster; returns true when that changed. */
  setJob(job: TrainHeartbeat['job']): boolean {
    const changed = JSON.stringify(job) !== JSON.stringify(this.job);
    this.job = job;
    return changed;
  }

  /** Applies one event; returns true when it changes what a heartbeat would carry. */
  apply(event: JobEvent): boolean {
    switch (event.type) {
      case 'progress': {
        const e = event as ProgressEvent;
        this.step = e.step;
        if (typeof e.total_steps === 'number') this.totalSteps = e.total_steps;
        if (e.loss !== undefined) {
          this.loss = e.loss;
          this.losses.push({ step: e.step, loss: e.loss });
        }
        return true;
      }
      case 'checkpoint': {
        const e = event as CheckpointEvent;
        // A checkpoint the job stored itself is known by its URI: a retry hands the URI to the job,
        // which may run on a host that shares no disk with this one.
        const ref = storedRef(e);
        this.checkpoint = ref ? ref.uri : e.path;
        this.checkpointStep = e.step;
        if (ref) this.checkpointRef = { ...ref, path: ref.uri };
        return true;
      }
      case 'resumed':
        this.resumedStep = (event as ResumedEvent).step;
        this.step ??= this.resumedStep;
        return true;
      case 'artifact':
        this.artifact = event as ArtifactEvent;
        return false;
      case DVC_PULL_FAILED:
        this.dataError = typeof event.message === 'string' ? event.message : 'dvc pull failed on the job host';
        return false;
      default:
        return false;
    }
  }

  heartbeat(): TrainHeartbeat {
    return { step: this.step, totalSteps: this.totalSteps, loss: this.loss, checkpoint: this.checkpoint, checkpointStep: this.checkpointStep, checkpointRef: this.checkpointRef, ...(this.job ? { job: this.job } : {}) };
  }

  /** The artifact's `final_loss` metric when it reports one, else the last progress loss. */
  finalLoss(): number | null {
    const reported = this.artifact?.metrics?.final_loss;
    return typeof reported === 'number' && Number.isFinite(reported) ? reported : this.loss;
  }
}
