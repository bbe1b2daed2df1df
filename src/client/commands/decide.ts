// approve / reject / rollback / cancel: each decision is checked here first, then sent as an update.
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import type { z } from 'zod';
import { STAGE_KEY } from '../../workflows/context.js';
import { DecisionInputSchema, RollbackInputSchema } from '../../workflows/messages.js';
import { ExitError, EXIT } from '../errors.js';
import { formatRelease, printJson, printLines } from '../output.js';
import type { SlipwayClient } from '../slipway-client.js';
import { defaultKeyPath, releaseForSigning, signDecision } from '../signing.js';
import { connectionOptions, withClient, type ConnectionFlags } from './common.js';

interface DecideFlags extends ConnectionFlags {
  as: string;
  reason: string;
  /** The SSH key to sign with; signing happens when given, or when the release requires signatures. */
  key?: string;
  /** `--no-sign`: send the decision unsigned. */
  sign: boolean;
}

/** The payload field each flag fills: a bad value is named by its flag, not by the wire format. */
const FLAG_OF: Record<string, string> = { approver: '--as', requestedBy: '--as', reason: '--reason' };

/**
 * Checks a decision against the same schema the workflow's validator uses, so bad input is a
 * usage error (exit 2) naming the flag, before anything is sent.
 */
export function checkDecision<S extends z.ZodType>(schema: S, input: z.input<S>): void {
  const parsed = schema.safeParse(input);
  if (parsed.success) return;
  const lines = parsed.error.issues.map((i) => `${FLAG_OF[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`);
  throw new ExitError(lines.join('\n'), EXIT.usage);
}

/**
 * An update sent to a closed workflow comes back as "not found"; when the release does exist,
 * say that it is finished and in which stage (a refusal, exit 4), not that it is missing.
 */
async function refuseIfFinished(client: SlipwayClient, id: string, err: unknown, action: string): Promise<never> {
  if (!(err instanceof WorkflowNotFoundError)) throw err;
  const description = await client.handle(id).describe().catch(() => undefined);
  if (!description || description.status.name === 'RUNNING') throw err;
  const stage = description.typedSearchAttributes.get(STAGE_KEY) ?? description.status.name.toLowerCase();
  throw new ExitError(`refused: ${id} is finished (stage ${stage}): there is nothing to ${action}. See it with \`slipway status ${id}\`.`, EXIT.refused);
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
        .option('--reason <text>', 'why; kept in the run and in MLflow (at most 2000 characters)', '')
        .option('--key <path>', 'sign with this SSH ed25519 key (a .pub path signs through ssh-agent); default when the release requires signatures: SLIPWAY_SIGNING_KEY or ~/.ssh/id_ed25519')
        .option('--no-sign', 'send the decision unsigned (counts only where the spec has approval.require_signature: false)')
        .option('--json', 'print JSON'),
    )
      .addHelpText('after', `\nExample:\n  $ slipway ${d.name} release:tiny-llm:v3 --as alice --key ~/.ssh/id_ed25519 --reason "eval looks good"`)
      .action(async (id: string, flags: DecideFlags) => {
        if (d.name === 'rollback') checkDecision(RollbackInputSchema, { requestedBy: flags.as, reason: flags.reason });
        else checkDecision(DecisionInputSchema, { approver: flags.as, reason: flags.reason });
        await withClient(flags, async (client) => {
          const release = await releaseForSigning(client.client, id);
          const sign = flags.sign && (flags.key !== undefined || release.requiresSignature);
          const signature = sign ? await signDecision(release, d.name, flags.as, flags.reason, flags.key ?? defaultKeyPath()) : undefined;
          const res =
            d.name === 'rollback'
              ? await client.rollback(id, { requestedBy: flags.as, reason: flags.reason, signature })
              : await client[d.name](id, { approver: flags.as, reason: flags.reason, signature }).catch((err: unknown) => refuseIfFinished(client, id, err, d.name));
          if ('stage' in res && d.name === 'rollback' && res.stage !== 'rolled-back') {
            throw new ExitError(`rollback of ${id} did not happen: ${res.error ?? `the release is ${res.stage}`}`, EXIT.failed);
          }
          if (flags.json) return printJson(res);
          if ('stage' in res) return printLines([`${d.name}: done`, ...formatRelease({ ...res, execution: { status: 'RUNNING', runId: '', startTime: '' }, progress: [], warnings: [] })]);
          printLines([`rolled back ${res.releaseWorkflowId}: ${res.rolledBackVersion} → ${res.restoredVersion}`]);
        });
      });
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
