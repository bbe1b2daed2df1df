// The statement an approver or operator signs: which release, which run, what decision, by whom,
// why, when, and a nonce. Pure: the CLI builds it to sign, the workflow rebuilds it to verify.
import { z } from 'zod';

/** `ssh-keygen -Y sign -n <namespace>`: a signature made for something else never counts here. */
export const SIGNATURE_NAMESPACE = 'slipway-decision';

export type DecisionAction = 'approve' | 'reject' | 'rollback';

export interface Statement {
  workflowId: string;
  /** The release's first run id: it stays the same across continue-as-new, so a rollback signed during a long monitor still matches. */
  runId: string;
  decision: DecisionAction;
  by: string;
  reason: string;
  /** ISO time the statement was signed. */
  time: string;
  nonce: string;
}

/** What a signed decision carries besides `approver`/`requestedBy` and `reason`. */
export const SignatureSchema = z
  .object({
    workflowId: z.string().min(1).max(1000),
    runId: z.string().min(1).max(100),
    time: z.string().datetime({ message: 'expected the ISO time the statement was signed' }),
    nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'expected 16 to 64 letters, digits, "_" or "-"'),
    sshsig: z.string().min(1).max(4000),
  })
  .strict();
export type SignatureInput = z.infer<typeof SignatureSchema>;

/**
 * The exact bytes that are signed: one `field: value` line each, values JSON-quoted so that a
 * reason with newlines cannot forge another field.
 */
export function canonicalStatement(s: Statement): string {
  const fields: Array<[string, string]> = [
    ['workflow-id', s.workflowId],
    ['run-id', s.runId],
    ['decision', s.decision],
    ['by', s.by],
    ['reason', s.reason],
    ['time', s.time],
    ['nonce', s.nonce],
  ];
  return `slipway decision v1\n${fields.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')}\n`;
}
