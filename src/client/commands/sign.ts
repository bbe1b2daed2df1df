// `slipway sign`: a signed decision to paste into the Temporal UI's Send Signal dialog.
import type { Command } from 'commander';
import type { DecisionAction } from '../../approvals/statement.js';
import { ExitError, EXIT } from '../errors.js';
import { printJson } from '../output.js';
import { defaultKeyPath, releaseForSigning, signDecision } from '../signing.js';
import { connectionOptions, withClient, type ConnectionFlags } from './common.js';

const ACTIONS: readonly DecisionAction[] = ['approve', 'reject', 'rollback'];

export interface SignedPayload {
  /** The signal to send: approve, reject or rollback. */
  signal: DecisionAction;
  /** The signal's input, as JSON for the UI. */
  input: Record<string, unknown>;
}

/** Builds the signed payload of a decision on a release (no signal is sent). */
export async function signedPayload(withRelease: (id: string) => Promise<{ workflowId: string; runId: string }>, action: string, id: string, who: string, reason: string, key: string): Promise<SignedPayload> {
  if (!ACTIONS.includes(action as DecisionAction)) throw new ExitError(`${action}: expected one of ${ACTIONS.join(', ')}`, EXIT.usage);
  const decision = action as DecisionAction;
  const signature = await signDecision(await withRelease(id), decision, who, reason, key);
  const input = decision === 'rollback' ? { requestedBy: who, reason, signature } : { approver: who, reason, signature };
  return { signal: decision, input };
}

export function registerSignCommand(program: Command): void {
  connectionOptions(
    program
      .command('sign')
      .description("print a signed decision for the Temporal UI's Send Signal dialog (paste it within approval.signature_max_age)")
      .argument('<decision>', 'approve, reject or rollback')
      .argument('<workflow-id>', 'e.g. release:tiny-llm:v3')
      .requiredOption('--as <name>', 'who you are; your public key must be listed in the spec (signers, signers_file)', process.env.SLIPWAY_USER)
      .option('--reason <text>', 'why; kept in the run and in MLflow', '')
      .option('--key <path>', 'SSH ed25519 key to sign with (a .pub path signs through ssh-agent)', defaultKeyPath())
      .option('--json', 'print {signal, input} instead of the input alone'),
  )
    .addHelpText('after', '\nExample:\n  $ slipway sign approve release:tiny-llm:v3 --as alice --reason "eval looks good"\n  then in the UI: the workflow → Send Signal → name: approve, input: the printed JSON')
    .action(async (action: string, id: string, flags: ConnectionFlags & { as: string; reason: string; key: string }) =>
      withClient(flags, async (client) => {
        const payload = await signedPayload((wid) => releaseForSigning(client.client, wid), action, id, flags.as, flags.reason, flags.key);
        printJson(flags.json ? payload : payload.input);
      }),
    );
}
