import type { Command } from 'commander';
import { ExitError, EXIT } from '../errors.js';
import { formatRelease, printJson, printLines } from '../output.js';
import { connectionOptions, withClient, type ConnectionFlags } from './common.js';

interface DecideFlags extends ConnectionFlags {
  as: string;
  reason: string;
}

/** approve / reject / rollback: each is an update, so the CLI hears back whether it counted. */
export function registerDecisionCommands(program: Command): void {
  const decisions = [
    { name: 'approve', help: 'approve a release waiting at the approval gate' },
    { name: 'reject', help: 'reject a release waiting at the approval gate (the run ends, nothing deploys)' },
    { name: 'rollback', help: 'roll a deployed release back to the previous version (during or after monitoring)' },
  ] as const;
  for (const d of decisions) {
    connectionOptions(
      program
        .command(d.name)
        .description(d.help)
        .argument('<workflow-id>', 'e.g. release:tiny-llm:v3')
        .requiredOption('--as <name>', 'who you are; must be listed in the spec (approvers, operators)', process.env.SLIPWAY_USER)
        .option('--reason <text>', 'why; kept in the run and in MLflow', '')
        .option('--json', 'print JSON'),
    )
      .addHelpText('after', `\nExample:\n  $ slipway ${d.name} release:tiny-llm:v3 --as alice --reason "eval looks good"`)
      .action(async (id: string, flags: DecideFlags) =>
        withClient(flags, async (client) => {
          const res =
            d.name === 'rollback'
              ? await client.rollback(id, { requestedBy: flags.as, reason: flags.reason })
              : await client[d.name](id, { approver: flags.as, reason: flags.reason });
          if ('stage' in res && d.name === 'rollback' && res.stage !== 'rolled-back') {
            throw new ExitError(`rollback of ${id} did not happen: ${res.error ?? `the release is ${res.stage}`}`, EXIT.failed);
          }
          if (flags.json) return printJson(res);
          if ('stage' in res) return printLines([`${d.name}: done`, ...formatRelease({ ...res, execution: { status: 'RUNNING', runId: '', startTime: '' }, progress: [], warnings: [] })]);
          printLines([`rolled back ${res.releaseWorkflowId}: ${res.rolledBackVersion} → ${res.restoredVersion}`]);
        }),
      );
  }

  connectionOptions(
    program.command('cancel').description('cancel a release: its jobs are killed and candidate servers stopped').argument('<workflow-id>').option('--json', 'print JSON'),
  )
    .addHelpText('after', '\nExample:\n  $ slipway cancel release:tiny-llm:v3')
    .action(async (id: string, flags: ConnectionFlags) =>
      withClient(flags, async (client) => {
        await client.cancel(id);
        if (flags.json) printJson({ workflowId: id, cancelRequested: true });
        else printLines([`cancellation requested for ${id}; follow with: slipway status ${id}`]);
      }),
    );
}
