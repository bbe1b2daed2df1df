// What the Temporal Web UI shows of a release: its summary and the markdown "current details"
// (the `__temporal_workflow_metadata` query), built from the status, and a one-line summary for
// each activity so the event history reads as the pipeline. Deterministic: no I/O, workflow time only.
// Marks are ✓/✗ rather than emoji: they render in every browser font, headless ones included.
import { setCurrentDetails } from '@temporalio/workflow';
import type { GateReport } from '../quality/gate.js';
import { durationMs, type PipelineSpec } from '../spec/schema.js';
import type { RunContext } from './context.js';
import { FINAL_STAGES, type PipelineStatus, type StageTiming } from './status.js';

/**
 * Rewrites the run's current details from its status. Not a command (it only sets what the metadata
 * query answers), so calling it anywhere is replay-safe.
 */
export function refreshDetails(ctx: Pick<RunContext, 'status' | 'spec'>): void {
  setCurrentDetails(releaseDetails(ctx.status, ctx.spec));
}

/** The run's one-line summary: model, release and stage. */
export function releaseSummary(status: Pick<PipelineStatus, 'model' | 'release' | 'stage'>): string {
  return `${status.model} ${status.release || '(scheduled)'} · ${status.stage}`;
}

/** Markdown for the UI's details panel. */
export function releaseDetails(status: PipelineStatus, spec: PipelineSpec): string {
  const parts = [`## ${releaseSummary(status)}`, stagesLine(status.stages)];
  if (status.variants.length) parts.push(variantsTable(status, spec));
  if (status.gate) parts.push(gateTable(status.gate, status.champion, status.selectedVariant));
  const approval = approvalSection(status, spec);
  if (approval) parts.push(approval);
  const deployment = deploymentSection(status);
  if (deployment) parts.push(deployment);
  if (status.error) parts.push(`**Error:** ${cell(status.error)}`);
  return parts.join('\n\n');
}

/** Milliseconds as `1h 02m`, `3m 05s` or `4.2s`. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return h ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(sec).padStart(2, '0')}s`;
}

/** The stages as one line (the UI's details panel is narrow): `training 2.0s → … → **gating** since 06:09:38 UTC`. */
function stagesLine(stages: StageTiming[]): string {
  // The details are rewritten when something happens, not every second: an open stage says since
  // when rather than show a duration that would go stale.
  const parts = stages.map((s) => {
    if (s.endedAt) return `${s.stage} ${formatDuration(Date.parse(s.endedAt) - Date.parse(s.startedAt))}`;
    return FINAL_STAGES.has(s.stage) ? `**${s.stage}**` : `**${s.stage}** since ${s.startedAt.slice(11, 19)} UTC`;
  });
  return `**Stages** ${parts.length ? parts.join(' → ') : 'starting'} (started ${stages[0]?.startedAt.slice(0, 10) ?? ''})`;
}

function variantsTable(status: PipelineStatus, spec: PipelineSpec): string {
  const rows = status.variants.map((v) => {
    // Only what sets the variant apart: the shared training params are in the static details.
    const own = spec.evaluate.variants.find((x) => x.name === v.name)?.params ?? {};
    const params = Object.entries(own).map(([k, x]) => `${k}=${x}`).join(' ');
    const training = v.cachedTraining ? 'cached' : v.resumedFromStep ? `resumed at step ${v.resumedFromStep}` : '';
    const m = v.metrics;
    const result = v.error ? `✗ ${v.error}` : v.gate ? (v.gate.passed ? '✓ passed' : '✗ failed') : '';
    return `| ${cell(v.name)}${v.name === status.selectedVariant ? ' (selected)' : ''} | ${v.stage} | ${cell(params)} | ${num(v.finalLoss)} ${training} | ${num(m?.accuracy)} | ${num(m?.latency_p99_ms)} | ${cell(result)} |`;
  });
  const live = status.stage === 'training' || status.stage === 'evaluating' ? '\n\nLive step and loss: the heartbeat details of the pending `trainModel` activity below.' : '';
  return ['### Candidates', '| variant | stage | own params | final loss | accuracy | p99 ms | gate |', '|---|---|---|---|---|---|---|', ...rows].join('\n') + live;
}

export interface GateRow {
  metric: string;
  value: number | null;
  /** `≥ 0.85 ✓`: the threshold rule, and whether it held. */
  threshold?: string;
  /** The same against the champion, when the spec compares with it. */
  vsChampion?: string;
  passed: boolean;
}

/** The gate's lines folded to one row per metric (threshold and champion rules side by side). */
export function gateRows(gate: GateReport): GateRow[] {
  const byMetric = new Map<string, GateRow>();
  for (const l of gate.lines) {
    const row = byMetric.get(l.metric) ?? { metric: l.metric, value: l.value, passed: true };
    const bound = `${l.direction === 'higher' ? '≥' : '≤'} ${num(l.threshold)} ${l.passed ? '✓' : '✗'}`;
    if (l.rule === 'threshold') row.threshold = bound;
    else row.vsChampion = bound;
    row.passed &&= l.passed;
    byMetric.set(l.metric, row);
  }
  return [...byMetric.values()];
}

/** The gate as a table: one row per metric, the candidate's value beside the champion's. */
export function gateTable(gate: GateReport, champion: PipelineStatus['champion'], variant?: string): string {
  const head = `### Gate: ${gate.passed ? '✓ passed' : '✗ failed'}${variant ? ` (variant ${cell(variant)})` : ''}`;
  const championName = champion ? `champion v${champion.version}` : 'champion (none yet)';
  const rows = gateRows(gate).map((r) => `| ${r.metric} | ${num(r.value)} | ${num(champion?.metrics[r.metric])} | ${r.threshold ?? ''} | ${r.vsChampion ?? ''} | ${r.passed ? '✓' : '✗'} |`);
  const warnings = (gate.warnings ?? []).map((w) => `\nWarning: ${cell(w)}`).join('');
  return [head, `| metric | candidate | ${championName} | threshold | vs champion | result |`, '|---|---|---|---|---|---|', ...rows].join('\n') + warnings;
}

function approvalSection(status: PipelineStatus, spec: PipelineSpec): string | undefined {
  const a = status.approval;
  if (!a) return undefined;
  const lines = ['### Approval'];
  if (a.decision) lines.push(`**${a.decision.decision}** by ${cell(a.decision.by)} at ${a.decision.at}${a.decision.reason ? `: ${cell(a.decision.reason)}` : ''}`);
  else {
    const who = a.escalated ? [...a.approvers, ...(spec.approval?.escalate_to ?? [])] : a.approvers;
    // The deadline is set just after the stage starts: the first time they are drawn, derive it.
    const since = status.stages.findLast((s) => s.stage === 'awaiting-approval')?.startedAt;
    const deadline = a.deadline ?? (since && spec.approval ? new Date(Date.parse(since) + durationMs(spec.approval.timeout)).toISOString() : undefined);
    lines.push(
      `Waiting for **${who.map(cell).join(', ')}**${deadline ? ` until ${deadline}` : ''}.`,
      'To decide here: **More Actions → Send a Signal** → signal name `approve` (or `reject`) → input:',
      '```json',
      `{"approver": "${who[0] ?? '<you>'}", "reason": "gate table looks good"}`,
      '```',
      `Or from a terminal: \`slipway approve ${status.workflowId} --as <you> --reason "..."\``,
    );
  }
  for (const r of a.refused) lines.push(`- refused ${cell(r.by)} at ${r.at}: ${cell(r.reason)}`);
  return lines.join('\n');
}

function deploymentSection(status: PipelineStatus): string | undefined {
  const d = status.deployment;
  const lines: string[] = [];
  if (d) {
    lines.push('### Deployment', `**${cell(d.version)}** at ${d.endpoint}${d.modelVersion ? ` (MLflow version ${d.modelVersion})` : ''}; previous: ${d.previousVersion ?? 'none'}`);
  }
  if (status.smoke) lines.push(`Smoke test: ${status.smoke.passed ? '✓ passed' : `✗ ${cell(status.smoke.failure ?? 'failed')}`}`);
  const m = status.monitor;
  if (m) {
    const w = m.lastWindow;
    const last = w ? `; last window: ${w.requests} requests, error rate ${num(w.errorRate)}, p99 ${num(w.latencyP99Ms)} ms${w.healthy ? '' : ` (unhealthy: ${cell(w.reason ?? '')})`}` : '';
    lines.push(`Monitor: ${formatDuration(m.elapsedMs)} of ${formatDuration(m.durationMs)}, ${m.samples} samples, ${m.breaches} breaches (${m.consecutiveBreaches} in a row)${last}`);
    if (!status.rollback && status.stage === 'monitoring') lines.push('To roll back: **More Actions → Send a Signal** → `rollback` → `{"requestedBy": "<you>", "reason": "..."}`');
  }
  const r = status.rollback;
  if (r) lines.push(`**Rolled back** by ${cell(r.by)} at ${r.at}${r.automatic ? ' (automatic)' : ''}: ${cell(r.reason)}; now ${r.restoredVersion ?? '?'}`);
  return lines.length ? lines.join('\n\n') : undefined;
}

/** Safe inside a markdown table cell. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function num(x: number | null | undefined): string {
  if (x === null || x === undefined) return '–';
  return String(Math.round(x * 1000) / 1000);
}

/** Input fields an activity summary is built from (every activity input is an object). */
type Input = Record<string, unknown>;

/**
 * One-line summaries of the release's activities, from their input; `jobPrefix` is the job name
 * up to the variant (`<pipeline>-<release>`), so a job name yields its variant.
 */
export function activitySummaries(jobPrefix: string): Record<string, (input: Input) => string> {
  const variant = (i: Input) => String(i.version ?? i.jobName ?? '').slice(jobPrefix.length + 1) || String(i.version ?? i.jobName ?? '');
  const file = (p: unknown) => String(p ?? '').split('/').at(-1);
  return {
    trainModel: (i) => `train variant ${variant(i)}`,
    deployCandidate: (i) => `serve candidate ${variant(i)}`,
    evaluateModel: (i) => `evaluate ${String(i.runKey ?? '').slice(jobPrefix.length + 1) || 'candidate'} on ${file(i.datasetPath)}`,
    stopCandidate: (i) => `stop candidate ${variant(i)}`,
    serveOnCluster: (i) => `serve candidate ${variant(i)} as a cluster job`,
    stopClusterServer: (i) => `stop cluster job ${String((i.job as { name?: unknown } | undefined)?.name ?? '')}`,
    promoteVersion: (i) => `promote ${String(i.version)}`,
    smokeTest: (i) => `smoke test ${String(i.endpoint)}`,
    sampleProductionMetrics: (i) => (i.previous === null ? 'monitor: baseline sample' : 'monitor: sample metrics'),
    rollbackDeployment: (i) => `roll back ${String(i.expectedLive ?? i.deploymentName)}`,
    mlflowLogText: (i) => `MLflow: log ${String(i.artifactPath)}`,
    mlflowLogFile: (i) => `MLflow: log ${String(i.artifactPath)}`,
    mlflowRegisterModelVersion: (i) => `MLflow: register ${String(i.modelName)}`,
    mlflowPromote: (i) => `MLflow: champion → v${String(i.version)}`,
    mlflowRollback: (i) => `MLflow: champion → v${String(i.toVersion)}`,
    mlflowOpenRelease: (i) => `MLflow: open run, read ${String(i.modelName)} champion`,
    mlflowRecordCandidate: (i) => `MLflow: record ${String(i.name)}`,
    mlflowRecordRun: (i) => (i.end ? `MLflow: close run (${String(i.end)})` : 'MLflow: record gate'),
    mlflowRegisterRelease: (i) => `MLflow: register ${String(i.modelName)}, make it champion`,
    notify: (i) => `notify: ${String(i.event)}`,
  };
}
