// `slipway rollout status|promote|abort|pause|resume <id>`: a canary's progress, and people's orders to it.
import type { Command } from 'commander';
import { RolloutOrderSchema, type RolloutAction } from '../../workflows/messages.js';
import type { PipelineStatus } from '../../workflows/status.js';
import { ExitError, EXIT } from '../errors.js';
import { bold, printJson, printLines } from '../output.js';
import { connectionOptions, withClient, type ConnectionFlags } from './common.js';

interface OrderFlags extends ConnectionFlags {
  as: string;
  reason: string;
  full?: boolean;
  json?: boolean;
}

const fmt = (v: number | null) => (v === null ? 'none' : Number.isInteger(v) ? String(v) : v.toPrecision(4));

/** The rollout part of a status as lines: weights, step, and every analysis with its measurements. */
export function formatRollout(s: PipelineStatus): string[] {
  const r = s.rollout;
  if (!r) return [`${s.workflowId}: no canary rollout (stage ${s.stage})`];
  const lines = [
    `${bold(s.workflowId)}  stage ${s.stage}  rollout ${r.phase}`,
    `  canary ${r.canaryVersion} ${r.weight}%  stable ${r.stableVersion ?? 'none'} ${100 - r.weight}%  step ${Math.min(r.step + 1, r.steps)}/${r.steps}`,
  ];
  if (r.note) lines.push(`  ${r.note}`);
  if (r.pause) lines.push(`  paused since ${r.pause.since}: ${r.pause.reason}`);
  if (r.abort) lines.push(`  aborted by ${r.abort.by} at ${r.abort.at}: ${r.abort.reason}`);
  for (const run of r.analysisRuns) {
    lines.push(`  analysis at ${run.step === 'bake' ? 'bake' : `step ${run.step + 1}`}: ${run.phase}${run.message ? ` (${run.message})` : ''}`);
    for (const m of run.metrics) {
      lines.push(`    ${m.name}: ${m.phase}, ${m.taken} measured (${m.successes} ok, ${m.failures} failed, ${m.inconclusives} inconclusive, ${m.errors} errors)`);
      for (const x of m.measurements) lines.push(`      ${x.at}  ${x.phase.padEnd(12)} ${fmt(x.value)}${x.error ? `  ${x.error}` : ''}`);
    }
  }
  for (const c of r.controls) lines.push(`  ${c.at}  ${c.action} by ${c.by}${c.reason ? `: ${c.reason}` : ''}`);
  return lines;
}

export function registerRolloutCommands(program: Command): void {
  const rollout = program.command('rollout').description('watch and steer a canary rollout');
  connectionOptions(rollout.command('status').description('weights, step, and every analysis run with its measurements').argument('<workflow-id>').option('--json', 'print JSON'))
    .addHelpText('after', '\nExample:\n  $ slipway rollout status release:tiny-llm:v3')
    .action(async (id: string, flags: ConnectionFlags & { json?: boolean }) =>
      withClient(flags, async (client) => {
        const status = await client.releaseStatus(id);
        if (flags.json) return printJson({ workflowId: id, stage: status.stage, rollout: status.rollout ?? null });
        printLines(formatRollout(status));
      }),
    );
  const orders: Array<{ action: RolloutAction; help: string }> = [
    { action: 'promote', help: 'move the canary past its current step (a pause, an analysis); --full skips every remaining step' },
    { action: 'abort', help: 'all traffic back to the stable version in one router update; the canary is stopped' },
    { action: 'pause', help: 'hold the rollout at its current step until resume' },
    { action: 'resume', help: 'go on after a pause' },
  ];
  for (const o of orders) {
    const cmd = rollout
      .command(o.action)
      .description(o.help)
      .argument('<workflow-id>')
      .requiredOption('--as <name>', 'who you are; must be listed in the spec (approvers, operators) when it lists anyone', process.env.SLIPWAY_USER)
      .option('--reason <text>', 'why; kept in the rollout status', '')
      .option('--json', 'print JSON');
    if (o.action === 'promote') cmd.option('--full', 'skip every remaining step and analysis');
    connectionOptions(cmd)
      .addHelpText('after', `\nExample:\n  $ slipway rollout ${o.action} release:tiny-llm:v3 --as alice${o.action === 'promote' ? ' --full' : ''}`)
      .action(async (id: string, flags: OrderFlags) => {
        const order = RolloutOrderSchema.safeParse({ by: flags.as, reason: flags.reason, full: flags.full ?? false });
        if (!order.success) throw new ExitError(order.error.issues.map((i) => `${i.path[0] === 'by' ? '--as' : `--${String(i.path[0])}`}: ${i.message}`).join('\n'), EXIT.usage);
        await withClient(flags, async (client) => {
          const status = await client.rolloutOrder(id, o.action, order.data);
          if (flags.json) return printJson({ workflowId: id, stage: status.stage, rollout: status.rollout ?? null });
          printLines([`${o.action}${flags.full ? ' --full' : ''}: sent`, ...formatRollout(status)]);
        });
      });
  }
}
