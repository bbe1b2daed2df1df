import { isGrpcServiceError, ScheduleNotFoundError } from '@temporalio/client';
import { Option, type Command } from 'commander';
import { connectClient } from '../connection.js';
import { EXIT, ExitError } from '../errors.js';
import { bold, dim, printJson, printLines } from '../output.js';
import { ScheduleExistsError, ScheduleInputError, SlipwaySchedules, type OverlapName, type ScheduleView } from '../schedules.js';
import { loadSpec } from '../spec-file.js';
import { connectionOptions, queueOptions, queuesFrom, type ConnectionFlags, type QueueFlags } from './common.js';

const OVERLAPS = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'];
const overlapOption = () => new Option('--overlap <policy>', 'override the overlap policy for this request').choices(OVERLAPS);

/** Runs `fn` with a schedule client; maps schedule errors to the CLI's exit codes. */
async function withSchedules<T>(flags: ConnectionFlags, fn: (s: SlipwaySchedules) => Promise<T>): Promise<T> {
  const client = await connectClient(flags);
  try {
    return await fn(new SlipwaySchedules(client));
  } catch (err) {
    if (err instanceof ScheduleInputError) throw new ExitError(err.message, EXIT.usage);
    if (err instanceof ScheduleExistsError) throw new ExitError(err.message, EXIT.refused);
    if (err instanceof ScheduleNotFoundError) throw new ExitError(`not found: schedule ${err.scheduleId}. List schedules with \`slipway schedule list\`.`, EXIT.notFound);
    // Temporal checks what we cannot cheaply check here (cron syntax): INVALID_ARGUMENT is bad input.
    if (isGrpcServiceError(err) && err.code === 3) throw new ExitError(`rejected by Temporal: ${err.details ?? err.message}`, EXIT.usage);
    throw err;
  } finally {
    await client.connection.close();
  }
}

function timingText(v: Pick<ScheduleView, 'timing'>): string {
  const t = v.timing;
  return [t.cron ? `cron "${t.cron}"` : `every ${t.every ?? '?'}`, t.timezone ? `in ${t.timezone}` : '', t.jitter ? `jitter ${t.jitter}` : ''].filter(Boolean).join(' ');
}

/** One screen about a schedule: timing, policies, pause state, next runs, recent runs and outcomes. */
export function formatSchedule(v: ScheduleView): string[] {
  const lines = [`${bold(v.name)}  ${v.pipeline}  ${timingText(v)}  ${v.paused ? 'PAUSED' : 'active'}${v.note ? dim(`  (${v.note})`) : ''}`];
  lines.push(`  policies: overlap ${v.policies.overlap}, catch-up window ${Math.round(v.policies.catchupWindowMs / 1000)}s, pause on failure ${v.policies.pauseOnFailure ? 'yes' : 'no'}`);
  lines.push(`  runs: ${v.workflowIdPrefix}-<scheduled time>; ${v.counts.taken} started, ${v.counts.skippedOverlap} skipped (overlap), ${v.counts.missedCatchupWindow} missed`);
  lines.push(`  next${v.paused ? ' (none start while paused)' : ''}: ${v.nextRuns.slice(0, 3).join(', ') || 'none'}`);
  for (const r of v.recentRuns) lines.push(`  ${r.status.toLowerCase().padEnd(10)} ${r.workflowId}  scheduled ${r.scheduledAt}`);
  return lines;
}

interface CreateFlags extends ConnectionFlags, QueueFlags {
  spec: string;
  cron?: string;
  every?: string;
  timezone?: string;
  jitter?: string;
  note?: string;
  paused?: boolean;
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('nightly (or any cadence) retrain-and-evaluate runs on Temporal Schedules');
  const sub = (name: string, description: string, example: string) =>
    connectionOptions(schedule.command(name).description(description).option('--json', 'print JSON')).addHelpText('after', `\nExample:\n  $ ${example}`);

  queueOptions(sub('create', 'validate a spec and create a schedule that starts its release pipeline', 'slipway schedule create nightly --spec pipeline.yaml --cron "0 2 * * *" --timezone Europe/Berlin'))
    .argument('<name>', 'schedule name; the schedule id is slipway:<name>')
    .requiredOption('--spec <file>', 'pipeline spec, YAML or JSON (its `schedule:` section sets the policies)')
    .option('--cron <expr>', 'cron expression, e.g. "0 2 * * *"')
    .option('--every <duration>', 'fixed interval instead of cron, e.g. 24h')
    .option('--timezone <tz>', 'IANA time zone for --cron (default UTC)')
    .option('--jitter <duration>', 'start each run up to this much later, at random')
    .option('--note <text>', 'note kept on the schedule')
    .option('--paused', 'create it paused')
    .action(async (name: string, flags: CreateFlags) => {
      const loaded = loadSpec(flags.spec); // an invalid spec stops here (exit 2), before Temporal is touched
      const view = await withSchedules(flags, (s) => s.create(name, loaded, { ...flags, queues: queuesFrom(flags) }));
      if (flags.json) printJson(view);
      else printLines([`created schedule ${view.scheduleId}`, ...formatSchedule(view)]);
    });

  sub('list', 'list Slipway schedules', 'slipway schedule list --json').action(async (flags: ConnectionFlags) => {
    const rows = await withSchedules(flags, (s) => s.list());
    if (flags.json) return printJson(rows);
    if (!rows.length) return printLines(['no schedules']);
    printLines(rows.map((r) => `${r.name.padEnd(24)} ${r.pipeline.padEnd(20)} ${(r.paused ? 'PAUSED' : 'active').padEnd(7)} ${timingText(r)}  next ${r.nextRuns[0] ?? '-'}`));
  });

  sub('describe', "show a schedule's next runs and its recent runs with their outcome", 'slipway schedule describe nightly')
    .argument('<name>')
    .action(async (name: string, flags: ConnectionFlags) => {
      const view = await withSchedules(flags, (s) => s.describe(name));
      if (flags.json) printJson(view);
      else printLines(formatSchedule(view));
    });

  for (const verb of ['pause', 'unpause'] as const) {
    sub(verb, verb === 'pause' ? 'stop scheduled runs (a manual trigger or backfill still runs)' : 'resume scheduled runs', `slipway schedule ${verb} nightly --note "${verb === 'pause' ? 'data migration' : 'migration done'}"`)
      .argument('<name>')
      .option('--note <text>', 'why; shown by describe')
      .action(async (name: string, flags: ConnectionFlags & { note?: string }) => {
        const view = await withSchedules(flags, async (s) => (await s[verb](name, flags.note), s.describe(name)));
        if (flags.json) printJson(view);
        else printLines([`${verb}d ${view.scheduleId}`, ...formatSchedule(view)]);
      });
  }

  sub('trigger', "start a run now (also on a paused schedule) under the schedule's overlap policy: with skip, nothing starts while a run is running", 'slipway schedule trigger nightly --overlap allow_all')
    .argument('<name>')
    .addOption(overlapOption())
    .action(async (name: string, flags: ConnectionFlags & { overlap?: OverlapName }) => {
      await withSchedules(flags, (s) => s.trigger(name, flags.overlap));
      if (flags.json) printJson({ name, triggered: true });
      else printLines([`triggered ${name}; see its runs with: slipway schedule describe ${name}`]);
    });

  sub('backfill', 'take the runs the schedule would have taken between two times', 'slipway schedule backfill nightly --from 2025-01-01T00:00:00Z --to 2025-01-04T00:00:00Z')
    .argument('<name>')
    .requiredOption('--from <iso>', 'start of the range (inclusive)')
    .requiredOption('--to <iso>', 'end of the range (exclusive)')
    .addOption(overlapOption())
    .action(async (name: string, flags: ConnectionFlags & { from: string; to: string; overlap?: OverlapName }) => {
      await withSchedules(flags, (s) => s.backfill(name, new Date(flags.from), new Date(flags.to), flags.overlap));
      if (flags.json) printJson({ name, backfill: { from: flags.from, to: flags.to } });
      else printLines([`backfill of ${name} from ${flags.from} to ${flags.to} requested; see: slipway schedule describe ${name}`]);
    });

  sub('delete', 'delete a schedule (runs it started are left alone)', 'slipway schedule delete nightly')
    .argument('<name>')
    .action(async (name: string, flags: ConnectionFlags) => {
      await withSchedules(flags, (s) => s.delete(name));
      if (flags.json) printJson({ name, deleted: true });
      else printLines([`deleted schedule ${name}`]);
    });
}
