// `slipway audit`: every decision, refusal and rollback order of a release, from its own record.
import type { Command } from 'commander';
import type { AuditEntry } from '../../workflows/status.js';
import { dim, printJson, printLines } from '../output.js';
import type { SlipwayClient } from '../slipway-client.js';
import { connectionOptions, withClient, type ConnectionFlags } from './common.js';

export interface AuditView {
  workflowId: string;
  stage: string;
  startedBy?: string;
  entries: AuditEntry[];
}

/** The release's audit trail (its status query: a finished release answers it too). */
export async function auditOf(client: SlipwayClient, id: string): Promise<AuditView> {
  const view = await client.status(id);
  return { workflowId: id, stage: view.stage, ...(view.startedBy ? { startedBy: view.startedBy } : {}), entries: view.audit ?? [] };
}

export function formatAudit(a: AuditView): string[] {
  const lines = [`${a.workflowId}  ${a.stage}${a.startedBy ? `  (started by ${a.startedBy})` : ''}`];
  if (!a.entries.length) lines.push('  no decisions recorded');
  for (const e of a.entries) {
    const signed = e.signed ? `signed ${e.fingerprint ?? ''}`.trim() : 'UNSIGNED';
    const outcome = e.counted ? 'counted' : `refused: ${e.refusal ?? ''}`;
    lines.push(`  ${e.at}  ${e.action.padEnd(8)} ${e.by.padEnd(14)} ${signed.padEnd(58)} ${outcome}`);
    if (e.reason) lines.push(dim(`      why: ${e.reason}`));
  }
  return lines;
}

export function registerAuditCommand(program: Command): void {
  connectionOptions(program.command('audit').description('who approved, rejected or rolled back a release, when, why, signed with which key, and what was refused').argument('<workflow-id>').option('--json', 'print JSON'))
    .addHelpText('after', '\nExample:\n  $ slipway audit release:tiny-llm:v3 --json')
    .action(async (id: string, flags: ConnectionFlags) =>
      withClient(flags, async (client) => {
        const a = await auditOf(client, id);
        if (flags.json) printJson(a);
        else printLines(formatAudit(a));
      }),
    );
}
