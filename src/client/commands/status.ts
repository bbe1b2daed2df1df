import type { Command } from 'commander';
import { STAGES, type Stage } from '../../workflows/status.js';
import { ExitError, EXIT } from '../errors.js';
import { formatRelease, printJson, printLines } from '../output.js';
import { connectionOptions, withClient, type ConnectionFlags } from './common.js';
import { formatOtherWorkflow, otherWorkflowView } from './status-other.js';

export function registerStatusCommands(program: Command): void {
  connectionOptions(
    program
      .command('status')
      .description("show a release's stage, timings, training progress, metrics, gate report, approvals and deployment; or a CI checks run's report")
      .argument('<workflow-id>', 'e.g. release:tiny-llm:v3, or checks:<pipeline>:<digest> from `slipway trigger`')
      .option('--json', 'print JSON'),
  )
    .addHelpText('after', '\nExample:\n  $ slipway status release:tiny-llm:v3 --json')
    .action(async (id: string, flags: ConnectionFlags) =>
      withClient(flags, async (client) => {
        // Only releases answer the `status` query; a checks run (or a rollback) is shown from its outcome.
        const description = await client.handle(id).describe();
        if (description.type !== 'releasePipeline') {
          const other = await otherWorkflowView(client, description);
          return flags.json ? printJson(other) : printLines(formatOtherWorkflow(other));
        }
        const view = await client.status(id);
        if (flags.json) printJson(view);
        else printLines(formatRelease(view));
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
        printLines(rows.map((r) => `${r.workflowId.padEnd(40)} ${r.stage.padEnd(18)} ${r.status.toLowerCase().padEnd(10)} ${r.startTime}`));
      });
    });
}
