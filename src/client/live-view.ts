// The live terminal view of a release (`slipway status --watch`, `slipway run --wait`): on a TTY a
// block redrawn in place (stage timeline, progress bars, ETA); elsewhere one plain line per change.
import { formatDuration } from '../workflows/metadata.js';
import { FINAL_STAGES } from '../workflows/status.js';
import { bold, dim, green, red } from './output.js';
import type { ReleaseView, TrainingProgress } from './slipway-client.js';

/** Estimates time left from the steps seen since the first poll of an attempt. */
export class EtaTracker {
  private readonly first = new Map<string, { step: number; at: number }>();

  /** Milliseconds left, or undefined until the rate is known. */
  eta(p: TrainingProgress, done: number, total: number, now: number): number | undefined {
    const key = `${p.activity}/${p.attempt}/${total}`;
    const start = this.first.get(key);
    if (!start) {
      this.first.set(key, { step: done, at: now });
      return undefined;
    }
    const rate = (done - start.step) / (now - start.at);
    return rate > 0 ? (total - done) / rate : undefined;
  }
}

/** A text progress bar of `width` cells. */
export function bar(done: number, total: number, width = 24): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(frac * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.floor(frac * 100)).padStart(3)}%`;
}


/** The block drawn on a TTY. */
export function liveLines(view: ReleaseView, now: number, eta: EtaTracker): string[] {
  const state = view.execution.status === 'RUNNING' ? '' : ` (${view.execution.status.toLowerCase()})`;
  const lines = [`${bold(view.workflowId)}  ${view.stage}${state}`];
  for (const w of view.warnings) lines.push(`  ⚠️  ${w}`);
  for (const s of view.stages) {
    const end = s.endedAt ? Date.parse(s.endedAt) : now;
    const mark = s.endedAt || FINAL_STAGES.has(s.stage) ? green('✓') : '▸';
    lines.push(`  ${mark} ${s.stage.padEnd(18)} ${FINAL_STAGES.has(s.stage) ? '' : formatDuration(end - Date.parse(s.startedAt))}${s.endedAt || FINAL_STAGES.has(s.stage) ? '' : ' …'}`.trimEnd());
  }
  for (const p of view.progress) {
    const who = label(view, p);
    if (p.step !== undefined && p.totalSteps) {
      const left = eta.eta(p, p.step, p.totalSteps, now);
      lines.push(`  ${who} ${bar(p.step, p.totalSteps)} step ${p.step}/${p.totalSteps}${p.loss !== undefined ? ` loss ${p.loss.toFixed(4)}` : ''} ETA ${left === undefined ? '…' : formatDuration(left)}`);
    } else if (p.step !== undefined) {
      lines.push(`  ${who} step ${p.step}${p.loss !== undefined ? ` loss ${p.loss.toFixed(4)}` : ''}`);
    } else if (p.total) {
      const left = eta.eta(p, p.done ?? 0, p.total, now);
      lines.push(`  ${who} ${bar(p.done ?? 0, p.total)} ${p.done ?? 0}/${p.total} prompts${p.errors ? red(` ${p.errors} errors`) : ''} ETA ${left === undefined ? '…' : formatDuration(left)}`);
    }
  }
  for (const v of view.variants) {
    if (!v.metrics && !v.error) continue;
    const gate = v.error ? red(`failed: ${v.error}`) : v.gate ? (v.gate.passed ? green('gate ✓') : red('gate ✗')) : '';
    lines.push(`  variant ${v.name}: accuracy ${v.metrics?.accuracy ?? '–'}, p99 ${v.metrics?.latency_p99_ms ?? '–'} ms ${gate}`.trimEnd());
  }
  const r = view.rollout;
  if (r && r.phase !== 'skipped') lines.push(`  canary ${bar(r.weight, 100)} on ${r.canaryVersion}, the rest on ${r.stableVersion ?? 'stable'} (step ${Math.min(r.step + 1, r.steps)} of ${r.steps}, ${r.phase})`);
  const m = view.monitor;
  if (m && view.stage === 'monitoring') lines.push(`  monitor ${bar(m.elapsedMs, m.durationMs)} ${m.samples} samples, ${m.breaches} breaches`);
  if (view.stage === 'awaiting-approval' && view.approval && !view.approval.decision) {
    lines.push(`  waiting for ${view.approval.approvers.join(', ')}: ${dim(`slipway approve ${view.workflowId} --as <you>`)}`);
  }
  if (view.error) lines.push(red(`  error: ${view.error}`));
  return lines;
}

/** What a running activity is about: the variant in its stage when only one is. */
function label(view: ReleaseView, p: TrainingProgress): string {
  const stage = p.activity === 'trainModel' ? 'training' : p.activity === 'evaluateModel' ? 'evaluating' : undefined;
  const only = stage ? view.variants.filter((v) => v.stage === stage) : [];
  const what = p.activity === 'trainModel' ? 'train' : p.activity === 'evaluateModel' ? 'evaluate' : p.activity;
  return `${what}${only.length === 1 ? ` ${only[0]?.name}` : ''}${p.attempt > 1 ? ` (attempt ${p.attempt})` : ''}`;
}

/** What must change for a new plain line: the stage, a tenth of training, the wait; not every step. */
export function plainKey(view: ReleaseView): string {
  const p = view.progress.find((x) => x.step !== undefined);
  const progress = p?.totalSteps && p.step !== undefined ? Math.floor((p.step / p.totalSteps) * 10) : p?.step;
  return `${view.stage}/${progress ?? ''}/${view.approval?.decision?.decision ?? ''}`;
}

/** The line printed when stdout is not a TTY (each time plainKey changes). */
export function plainLine(view: ReleaseView): string {
  const p = view.progress.find((x) => x.step !== undefined);
  const tenth = p?.totalSteps && p.step !== undefined ? ` ${Math.floor((p.step / p.totalSteps) * 10) * 10}%` : '';
  const train = p ? ` ${p.activity} step ${p.step}${p.totalSteps ? `/${p.totalSteps}${tenth}` : ''}${p.loss !== undefined ? ` loss ${p.loss.toFixed(4)}` : ''}` : '';
  const waiting = view.stage === 'awaiting-approval' && view.approval && !view.approval.decision ? ` waiting for ${view.approval.approvers.join(', ')}: slipway approve ${view.workflowId} --as <you>` : '';
  return `[${view.stage}]${train}${waiting}`;
}

/** Redraws a block of lines in place (cursor up, clear to the end of the screen). */
export class LiveScreen {
  private drawn = 0;
  constructor(private readonly out: { write(s: string): unknown }) {}

  draw(lines: string[]): void {
    const up = this.drawn ? `\u001b[${this.drawn}A\r` : '';
    this.out.write(`${up}\u001b[0J${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}
