import type { Command } from 'commander';
import { STAGES, type Stage } from '../../workflows/status.js';
import { ExitError, EXIT } from '../errors.js';
import { formatDuration } from '../../workflows/metadata.js';
import { formatRelease, printJson, printLines } from '../output.js';
import type { ListedRelease } from '../slipway-client.js';
import { exitCodeFor, watchRelease } from './run.js';
import { connectionOptions, withClient, type ConnectionFlags } from './common.js';
import { formatOtherWorkflow, otherWorkflowView } from './status-other.js';

export function registerStatusCommands(program: Command): void {
  connectionOptions(
    program
      .command('status')
      .description("show a release's stage, timings, training progress, metrics, gate report, approvals and deployment; or a CI checks run's report")
      .argument('<workflow-id>', 'e.g. release:tiny-llm:v3, or checks:<pipeline>:<digest> from `slipway trigger`')
      .option('--watch', 'follow the release until it ends: on a terminal a live view redrawn in place, otherwise a line per change')
      .option('--json', 'print JSON (with --watch: the final status, once the release ends)'),
  )
    .addHelpText('after', '\nExample:\n  $ slipway status release:tiny-llm:v3 --watch\n  $ slipway status release:tiny-llm:v3 --json')
    .action(async (id: string, flags: ConnectionFlags & { watch?: boolean }) =>
      withClient(flags, async (client) => {
        // Only releases answer the `status` query; a checks run (or a rollback) is shown from its outcome.
        const description = await client.handle(id).describe();
        if (description.type !== 'releasePipeline') {
          const other = await otherWorkflowView(client, description);
          return flags.json ? printJson(other) : printLines(formatOtherWorkflow(other));
        }
        const view = flags.watch ? await watchRelease(client, id, !flags.json) : await client.status(id);
        if (flags.json) printJson(view);
        else printLines(formatRelease(view));
        // Watching ends with the release: its outcome is the exit code, as with `run --wait`.
        if (flags.watch) process.exitCode = exitCodeFor(view);
      }),
    );

  connectionOptions(
    program
      .command('list')
      .description('list releases, newest first, optionally only those in one stage')
      .option('--stage <stage>', `only this stage (${STAGES.join(', ')})`)
      .option('--limit <n>', 'at most this many', '50')
      .option('--json', 'print JSON'),
  )
    .addHelpText('after', '\nExample:\n  $ slipway list --stage awaiting-approval')
    .action(async (flags: ConnectionFlags & { stage?: string; limit: string }) => {
      if (flags.stage && !(STAGES as readonly string[]).includes(flags.stage)) {
        throw new ExitError(`--stage ${flags.stage} is not a stage; use one of: ${STAGES.join(', ')}`, EXIT.usage);
      }
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new ExitError(`--limit ${flags.limit}: expected a positive integer`, EXIT.usage);
      await withClient(flags, async (client) => {
        const rows = await client.list({ stage: flags.stage as Stage | undefined, limit });
        if (flags.json) return printJson(rows);
        if (!rows.length) return printLines(['no releases found']);
        printLines(formatList(rows, Date.now()));
      });
    });
}

/** Releases as a table: id, stage (for one ended from outside, how it ended and in which stage), age, and who is awaited. */
export function formatList(rows: ListedRelease[], now: number): string[] {
  const cells = rows.map((r) => [r.workflowId, r.endedIn ? `${r.stage} (in ${r.endedIn})` : r.stage, age(now - Date.parse(r.startTime)), r.awaiting?.join(', ') ?? '']);
  const table = [['ID', 'STAGE', 'AGE', 'AWAITING'], ...cells];
  const widths = [0, 1, 2].map((i) => Math.max(...table.map((c) => c[i]!.length)));
  return table.map((c) => c.map((x, i) => (i < 3 ? x.padEnd(widths[i]!) : x)).join('  ').trimEnd());
}

/** An age in the largest two units: `45s`, `12m 03s`, `3h 05m`, `2d 04h`. */
function age(ms: number): string {
  if (ms >= 86_400_000) return `${Math.floor(ms / 86_400_000)}d ${String(Math.floor((ms % 86_400_000) / 3_600_000)).padStart(2, '0')}h`;
  return ms < 60_000 ? `${Math.floor(ms / 1000)}s` : formatDuration(ms);
}
