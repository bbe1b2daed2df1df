// How the CLI prints: JSON when asked, short human text otherwise; colour only on a TTY.
import { FINAL_STAGES } from '../workflows/status.js';
import type { ReleaseView } from './slipway-client.js';

export const isTty = Boolean(process.stdout.isTTY);
const paint = (code: number) => (s: string) => (isTty && !process.env.NO_COLOR ? `\u001b[${code}m${s}\u001b[0m` : s);
export const bold = paint(1);
export const dim = paint(2);
export const green = paint(32);
export const red = paint(31);

export function printJson(data: unknown): void {
  process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
}

export function printLines(lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** One screen about a release: where it is, what it measured, who decided. */
export function formatRelease(v: ReleaseView): string[] {
  const lines = [`${bold(v.workflowId)}  ${v.stage}  (${v.execution.status.toLowerCase()})`];
  for (const w of v.warnings) lines.push(`  ⚠️  ${w}`);
  for (const s of v.stages) lines.push(`  ${s.stage.padEnd(18)} ${s.startedAt}${s.endedAt ? ` → ${s.endedAt}` : FINAL_STAGES.has(s.stage) ? '' : ' …'}`);
  for (const p of v.progress) {
    if (p.job?.state === 'pending') lines.push(`  ${p.activity}: pending${p.job.reason ? ` (${p.job.reason})` : ''} (job ${p.job.id}, attempt ${p.attempt})`);
    else if (p.step !== undefined) lines.push(`  ${p.activity}: step ${p.step}${p.loss !== undefined ? ` loss ${p.loss.toFixed(4)}` : ''} (attempt ${p.attempt})`);
  }
  for (const variant of v.variants) {
    const m = variant.metrics ? Object.entries(variant.metrics).map(([k, x]) => `${k}=${round(x)}`).join(' ') : '';
    lines.push(`  variant ${variant.name}: ${variant.stage}${variant.cachedTraining ? ' (cached training)' : ''} ${m}`.trimEnd());
  }
  if (v.gate) {
    lines.push('  gate:');
    for (const l of v.gate.lines) lines.push(`    ${l.passed ? '✅' : '❌'} ${l.metric}${l.rule === 'champion' ? ' vs champion' : ''}: ${l.value ?? 'missing'} (${l.direction === 'higher' ? '>=' : '<='} ${round(l.threshold)})`);
  }
  if (v.approval) {
    const d = v.approval.decision;
    const signedMark = d?.signed === undefined ? '' : d.signed ? ' [signed]' : ' [UNSIGNED]';
    lines.push(d ? `  approval: ${d.decision} by ${d.by} at ${d.at}${signedMark}${d.reason ? ` (${d.reason})` : ''}` : `  approval: waiting for ${v.approval.approvers.join(', ')} until ${v.approval.deadline ?? '?'}`);
    for (const vote of v.approval.votes ?? []) lines.push(`    approved by ${vote.by} at ${vote.at} ${vote.signed ? `[signed ${vote.fingerprint ?? ''}]` : '[UNSIGNED]'}`);
    const needed = v.approval.stillNeeded;
    if (needed && !d) lines.push(`    still needed: ${needed.count} more of ${needed.from.join(', ') || '(nobody left who may)'}`);
    for (const r of v.approval.refused) lines.push(dim(`    refused ${r.by}: ${r.reason}`));
  }
  if (v.startedBy) lines.push(`  started by: ${v.startedBy}`);
  if (v.deployment) lines.push(`  deployed: ${v.deployment.version} at ${v.deployment.endpoint}${v.deployment.modelVersion ? ` (MLflow version ${v.deployment.modelVersion})` : ''}`);
  if (v.monitor) lines.push(`  monitor: ${v.monitor.samples} samples, ${v.monitor.breaches} breaches, ${Math.round(v.monitor.elapsedMs / 1000)}s of ${Math.round(v.monitor.durationMs / 1000)}s`);
  if (v.rollback) lines.push(`  rolled back by ${v.rollback.by}: ${v.rollback.reason} (now ${v.rollback.restoredVersion})`);
  if (v.error) lines.push(red(`  error: ${v.error}`));
  return lines;
}

export const round = (x: number) => Math.round(x * 1000) / 1000;
