// Nightly retrain-and-evaluate: Temporal Schedules whose action starts `releasePipeline`.
import { ScheduleAlreadyRunning, WorkflowNotFoundError, type Client, type ScheduleDescription, type ScheduleOverlapPolicy } from '@temporalio/client';
import { Duration, ScheduleSection } from '../spec/schema.js';
import type { SlipwayQueues } from '../queues.js';
import { releaseStart } from './release-start.js';
import type { LoadedSpec } from './spec-file.js';

export type OverlapName = 'skip' | 'buffer_one' | 'buffer_all' | 'cancel_other' | 'terminate_other' | 'allow_all';

/** Bad schedule input (name, cron, timezone, duration, time range); `problems` name the flag. */
export class ScheduleInputError extends Error {
  readonly code = 'SLIPWAY_INVALID_SCHEDULE';
}

/** `create` of a schedule that exists: delete it first (its recent runs stay in Temporal). */
export class ScheduleExistsError extends Error {
  readonly code = 'SLIPWAY_SCHEDULE_EXISTS';
}

export interface ScheduleTiming {
  cron?: string;
  every?: string;
  timezone?: string;
  jitter?: string;
}

export interface CreateScheduleOptions extends ScheduleTiming {
  note?: string;
  paused?: boolean;
  /** Orchestration task queue of the started runs (default `slipway`). */
  queues?: Partial<SlipwayQueues>;
}

export interface ScheduleRun {
  workflowId: string;
  scheduledAt: string;
  takenAt: string;
  /** The run's execution status (COMPLETED, FAILED, RUNNING...), or UNKNOWN once it is gone. */
  status: string;
}

export interface ScheduleView {
  name: string;
  scheduleId: string;
  pipeline: string;
  specFile: string;
  timing: ScheduleTiming;
  paused: boolean;
  note: string;
  policies: { overlap: OverlapName; catchupWindowMs: number; pauseOnFailure: boolean };
  workflowIdPrefix: string;
  /** Upcoming times the spec gives; while paused none of them starts a run. */
  nextRuns: string[];
  recentRuns: ScheduleRun[];
  running: string[];
  counts: { taken: number; skippedOverlap: number; missedCatchupWindow: number };
}

/** The Temporal schedule id of a Slipway schedule. */
export function scheduleId(name: string): string {
  return `slipway:${name}`;
}

const toPolicy = (o: OverlapName) => o.toUpperCase() as ScheduleOverlapPolicy;
const fromPolicy = (o: ScheduleOverlapPolicy | undefined) => (o ?? 'SKIP').toLowerCase() as OverlapName;

/** Checks a schedule's name and timing before anything is sent to Temporal. */
export function validateTiming(name: string, t: ScheduleTiming): void {
  const problems: string[] = [];
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) problems.push(`name ${JSON.stringify(name)}: expected lowercase letters, digits, ".", "_" or "-"`);
  if (Boolean(t.cron) === Boolean(t.every)) problems.push('give exactly one of --cron or --every');
  if (t.every && !Duration.safeParse(t.every).success) problems.push(`--every ${t.every}: expected a duration such as 24h or 30m`);
  if (t.jitter && !Duration.safeParse(t.jitter).success) problems.push(`--jitter ${t.jitter}: expected a duration such as 10m`);
  if (t.cron && t.cron.trim().split(/\s+/).length < 5) problems.push(`--cron ${JSON.stringify(t.cron)}: expected five fields, e.g. "0 2 * * *"`);
  if (t.timezone) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: t.timezone });
    } catch {
      problems.push(`--timezone ${t.timezone}: not an IANA time zone (e.g. Europe/Berlin)`);
    }
  }
  if (problems.length) throw new ScheduleInputError(problems.join('; '));
}

/** The Slipway operations on Temporal Schedules, by schedule name. */
export class SlipwaySchedules {
  constructor(readonly client: Client) {}

  /**
   * Creates a schedule whose every action starts a release of the validated spec. The run's
   * workflow id is `release:<model>:scheduled-<name>`; Temporal appends the scheduled time, and
   * the empty `release` makes the workflow take that suffix as its release label.
   */
  async create(name: string, loaded: LoadedSpec, opts: CreateScheduleOptions): Promise<ScheduleView> {
    validateTiming(name, opts);
    const policies = loaded.spec.schedule ?? ScheduleSection.parse({});
    const { workflowType, ...start } = releaseStart(loaded, {
      release: '',
      idLabel: `scheduled-${name}`,
      queues: opts.queues,
      trigger: { kind: 'schedule', reason: `schedule ${name}`, files: [] },
    });
    const timing: ScheduleTiming = { cron: opts.cron, every: opts.every, timezone: opts.timezone, jitter: opts.jitter };
    try {
      await this.client.schedule.create({
        scheduleId: scheduleId(name),
        spec: {
          ...(opts.cron ? { cronExpressions: [opts.cron] } : { intervals: [{ every: opts.every as string }] }),
          ...(opts.timezone ? { timezone: opts.timezone } : {}),
          ...(opts.jitter ? { jitter: opts.jitter } : {}),
        },
        action: { type: 'startWorkflow', workflowType, ...start },
        policies: { overlap: toPolicy(policies.overlap ?? (loaded.spec.approval?.required ? 'allow_all' : 'skip')), catchupWindow: policies.catchup_window, pauseOnFailure: policies.pause_on_failure },
        state: { paused: opts.paused ?? false, note: opts.note ?? `created by slipway from ${loaded.file}` },
        memo: { pipeline: loaded.spec.name, specFile: loaded.file, specDigest: loaded.digest, timing },
      });
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) throw new ScheduleExistsError(`schedule ${name} already exists; delete it first: slipway schedule delete ${name}`);
      throw err;
    }
    return this.describe(name);
  }

  /** Every Slipway schedule (ids starting `slipway:`), with its timing and pause state. */
  async list(): Promise<Array<Pick<ScheduleView, 'name' | 'scheduleId' | 'pipeline' | 'timing' | 'paused' | 'note' | 'nextRuns'>>> {
    const out = [];
    for await (const s of this.client.schedule.list()) {
      if (!s.scheduleId.startsWith('slipway:')) continue;
      const memo = (s.memo ?? {}) as { pipeline?: string; timing?: ScheduleTiming };
      out.push({
        name: s.scheduleId.slice('slipway:'.length),
        scheduleId: s.scheduleId,
        pipeline: memo.pipeline ?? '',
        timing: memo.timing ?? {},
        paused: s.state.paused,
        note: s.state.note ?? '',
        nextRuns: s.info.nextActionTimes.slice(0, 3).map((d) => d.toISOString()),
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The schedule with its next runs and its recent runs' outcomes (each run's workflow is looked up). */
  async describe(name: string): Promise<ScheduleView> {
    const d = await this.client.schedule.getHandle(scheduleId(name)).describe();
    return { ...this.view(name, d), recentRuns: await Promise.all(d.info.recentActions.map((a) => this.runOf(a.action.workflow.workflowId, a.scheduledAt, a.takenAt))) };
  }

  async pause(name: string, note?: string): Promise<void> {
    await this.client.schedule.getHandle(scheduleId(name)).pause(note ?? 'paused with slipway schedule pause');
  }

  async unpause(name: string, note?: string): Promise<void> {
    await this.client.schedule.getHandle(scheduleId(name)).unpause(note ?? 'unpaused with slipway schedule unpause');
  }

  /** Starts a run now, under the schedule's own overlap policy unless `overlap` says otherwise; a paused schedule still runs it. */
  async trigger(name: string, overlap?: OverlapName): Promise<void> {
    const handle = this.client.schedule.getHandle(scheduleId(name));
    const policy = overlap ? toPolicy(overlap) : (await handle.describe()).policies.overlap;
    await handle.trigger(policy);
  }

  /** Takes the actions the spec would have taken in [from, to), under the schedule's overlap policy unless overridden. */
  async backfill(name: string, from: Date, to: Date, overlap?: OverlapName): Promise<void> {
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) throw new ScheduleInputError('--from and --to: expected ISO times with --from before --to');
    await this.client.schedule.getHandle(scheduleId(name)).backfill({ start: from, end: to, ...(overlap ? { overlap: toPolicy(overlap) } : {}) });
  }

  /** Deletes the schedule; runs it started are left alone (they finish or are cancelled on their own). */
  async delete(name: string): Promise<void> {
    await this.client.schedule.getHandle(scheduleId(name)).delete();
  }

  private view(name: string, d: ScheduleDescription): ScheduleView {
    const memo = (d.memo ?? {}) as { pipeline?: string; specFile?: string; timing?: ScheduleTiming };
    return {
      name,
      scheduleId: d.scheduleId,
      pipeline: memo.pipeline ?? '',
      specFile: memo.specFile ?? '',
      timing: memo.timing ?? {},
      paused: d.state.paused,
      note: d.state.note ?? '',
      policies: { overlap: fromPolicy(d.policies.overlap), catchupWindowMs: d.policies.catchupWindow, pauseOnFailure: d.policies.pauseOnFailure },
      workflowIdPrefix: d.action.workflowId ?? '',
      nextRuns: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
      recentRuns: [],
      running: d.info.runningActions.map((a) => a.workflow.workflowId),
      counts: { taken: d.info.numActionsTaken, skippedOverlap: d.info.numActionsSkippedOverlap, missedCatchupWindow: d.info.numActionsMissedCatchupWindow },
    };
  }

  private async runOf(workflowId: string, scheduledAt: Date, takenAt: Date): Promise<ScheduleRun> {
    let status = 'UNKNOWN';
    try {
      // The latest run of the chain: monitoring continues-as-new, and the chain's end is the outcome.
      status = (await this.client.workflow.getHandle(workflowId).describe()).status.name;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    return { workflowId, scheduledAt: scheduledAt.toISOString(), takenAt: takenAt.toISOString(), status };
  }
}
