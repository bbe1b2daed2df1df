// The release report as one self-contained HTML file: inline CSS and SVG charts, no script, nothing
// fetched, so it opens anywhere (a browser, MLflow's artifact viewer, an email attachment).
import type { LossPoint } from '../../activities/jobs/types.js';
import type { GateReport } from '../../quality/gate.js';
import type { LatencyBin } from '../../quality/latency-bins.js';
import { formatDuration, gateRows } from '../../workflows/metadata.js';
import { FINAL_STAGES, type PipelineStatus } from '../../workflows/status.js';
import type { ReportData, VariantReport } from './data.js';

const COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#db2777'];

export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const num = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '–' : String(Math.round(x * 10 ** digits) / 10 ** digits));

/** The whole report. */
export function reportHtml(data: ReportData): string {
  const v = data.view;
  const sections = [
    section('Stage timeline', timelineSvg(v, Date.parse(data.generatedAt))),
    section('Training loss', lossSvg(data.variants)),
    section('Evaluation latency', latencySvgs(data.variants)),
    section('Gate against the champion', v.gate ? gateTableHtml(v.gate, v.champion, v.selectedVariant) : '<p>The release has not reached the gate.</p>'),
    section('Candidates', variantsTable(data)),
    section('Approvals and rollbacks', decisions(v)),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(v.workflowId)} · Slipway report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f8fafc;color:#0f172a}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 12px}
.meta{color:#475569}.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:16px;margin:16px 0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e2e8f0}
th{color:#475569;font-weight:600}.pass{color:#059669}.fail{color:#dc2626}.stage{font-weight:600}
svg text{font:11px system-ui,sans-serif;fill:#334155}.legend span{display:inline-block;margin-right:12px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
</style></head>
<body><main>
<h1>${esc(v.workflowId)}</h1>
<div class="meta">model <b>${esc(v.model)}</b> · release <b>${esc(v.release)}</b> · stage <span class="stage ${stageClass(v.stage)}">${esc(v.stage)}</span> · started ${esc(v.execution.startTime)}${v.execution.closeTime ? ` · closed ${esc(v.execution.closeTime)}` : ''} · report of ${esc(data.generatedAt)}</div>
${v.error ? `<div class="card fail">${esc(v.error)}</div>` : ''}
${sections.join('\n')}
</main></body></html>
`;
}

function section(title: string, body: string): string {
  return `<section class="card"><h2>${esc(title)}</h2>${body}</section>`;
}

function stageClass(stage: PipelineStatus['stage']): string {
  if (stage === 'completed') return 'pass';
  return FINAL_STAGES.has(stage) ? 'fail' : '';
}

/** One bar per stage on a shared time axis, with its duration. */
function timelineSvg(v: PipelineStatus, now: number): string {
  if (!v.stages.length) return '<p>No stage yet.</p>';
  const t0 = Date.parse(v.stages[0]!.startedAt);
  const ends = v.stages.map((s) => (s.endedAt ? Date.parse(s.endedAt) : FINAL_STAGES.has(s.stage) ? Date.parse(s.startedAt) : now));
  const span = Math.max(1, Math.max(...ends) - t0);
  const [W, label, row] = [940, 150, 24];
  const bars = v.stages.map((s, i) => {
    const start = Date.parse(s.startedAt);
    const x = label + ((start - t0) / span) * (W - label - 80);
    const w = Math.max(2, ((ends[i]! - start) / span) * (W - label - 80));
    const color = FINAL_STAGES.has(s.stage) ? (s.stage === 'completed' ? '#059669' : '#dc2626') : COLORS[i % COLORS.length];
    const took = FINAL_STAGES.has(s.stage) ? '' : formatDuration(ends[i]! - start) + (s.endedAt ? '' : ' …');
    return `<g class="stage-bar"><text x="0" y="${i * row + 16}">${esc(s.stage)}</text><rect x="${x.toFixed(1)}" y="${i * row + 4}" width="${w.toFixed(1)}" height="16" rx="3" fill="${color}"><title>${esc(s.stage)}: ${esc(s.startedAt)} → ${esc(s.endedAt ?? 'now')}</title></rect><text x="${(x + w + 6).toFixed(1)}" y="${i * row + 16}">${esc(took)}</text></g>`;
  });
  return `<svg id="stage-timeline" viewBox="0 0 ${W} ${v.stages.length * row + 8}" width="100%" role="img" aria-label="stage timeline">${bars.join('')}</svg>`;
}

/** Loss by step, one line per variant, on shared axes. */
function lossSvg(variants: VariantReport[]): string {
  const curves = variants.filter((x) => x.loss.length > 1);
  if (!curves.length) return '<p>No loss curve recorded (training was cached, or has not run).</p>';
  const all = curves.flatMap((c) => c.loss);
  const [W, H, L, B] = [940, 280, 56, 30];
  const maxStep = Math.max(...all.map((p) => p.step));
  const minStep = Math.min(...all.map((p) => p.step));
  const maxLoss = Math.max(...all.map((p) => p.loss));
  const minLoss = Math.min(0, ...all.map((p) => p.loss));
  const x = (s: number) => L + ((s - minStep) / Math.max(1, maxStep - minStep)) * (W - L - 10);
  const y = (l: number) => 10 + (1 - (l - minLoss) / Math.max(1e-9, maxLoss - minLoss)) * (H - B - 10);
  const lines = curves.map((c, i) => `<polyline class="loss-line" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${c.loss.map((p: LossPoint) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(' ')}"><title>${esc(c.name)}</title></polyline>`);
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => minLoss + f * (maxLoss - minLoss));
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => Math.round(minStep + f * (maxStep - minStep)));
  const axes =
    yTicks.map((t) => `<line x1="${L}" x2="${W - 10}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e2e8f0"/><text x="${L - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${num(t)}</text>`).join('') +
    xTicks.map((t) => `<text x="${x(t).toFixed(1)}" y="${H - 10}" text-anchor="middle">${t}</text>`).join('') +
    `<text x="${W / 2}" y="${H}" text-anchor="middle">step</text>`;
  return `<svg id="loss-chart" viewBox="0 0 ${W} ${H + 4}" width="100%" role="img" aria-label="training loss by step">${axes}${lines.join('')}</svg>${legend(curves.map((c) => c.name))}`;
}

/** A latency histogram per evaluated variant, with its p50/p95/p99. */
function latencySvgs(variants: VariantReport[]): string {
  const shown = variants.filter((v) => v.latency.length);
  if (!shown.length) return '<p>No latencies recorded (evaluation cached before histograms were kept, or not run).</p>';
  return shown
    .map((v, i) => {
      const [W, H, L, B] = [940, 200, 40, 34];
      const maxCount = Math.max(1, ...v.latency.map((b) => b.count));
      const bw = (W - L - 10) / v.latency.length;
      const bars = v.latency.map((b: LatencyBin, j) => {
        const h = (b.count / maxCount) * (H - B - 10);
        return `<rect class="latency-bar" x="${(L + j * bw + 1).toFixed(1)}" y="${(H - B - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${num(b.fromMs, 1)}–${num(b.toMs, 1)} ms: ${b.count}</title></rect>`;
      });
      const first = v.latency[0]!.fromMs;
      const last = v.latency.at(-1)!.toMs;
      const marks = v.eval
        ? (['latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms'] as const).map((k, n) => {
            const px = L + ((v.eval![k] - first) / Math.max(1e-9, last - first)) * (W - L - 10);
            // Labels stack, and turn left near the right edge, so close percentiles stay readable.
            const right = px > W - 120;
            return `<line x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="4" y2="${H - B}" stroke="#0f172a" stroke-dasharray="3 3"/><text x="${(px + (right ? -4 : 4)).toFixed(1)}" y="${12 + n * 13}" text-anchor="${right ? 'end' : 'start'}">${k.slice(8, 11)} ${num(v.eval![k], 1)} ms</text>`;
          })
        : [];
      const axis = `<text x="${L}" y="${H - B + 14}">${num(first, 1)} ms</text><text x="${W - 10}" y="${H - B + 14}" text-anchor="end">${num(last, 1)} ms</text><text x="${L - 6}" y="${H - B}" text-anchor="end">0</text><text x="${L - 6}" y="14" text-anchor="end">${maxCount}</text>`;
      return `<h3>${esc(v.name)}</h3><svg class="latency-histogram" id="latency-${esc(v.name)}" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="latency histogram of ${esc(v.name)}">${bars.join('')}${marks.join('')}${axis}</svg>`;
    })
    .join('');
}

function legend(names: string[]): string {
  return `<div class="legend">${names.map((n, i) => `<span><i class="swatch" style="background:${COLORS[i % COLORS.length]}"></i>${esc(n)}</span>`).join('')}</div>`;
}

/** The gate, one row per metric: the candidate's value beside the champion's. */
export function gateTableHtml(gate: GateReport, champion: PipelineStatus['champion'], variant?: string): string {
  const head = `<p>${gate.passed ? '<b class="pass">✓ passed</b>' : '<b class="fail">✗ failed</b>'}${variant ? ` · variant <b>${esc(variant)}</b>` : ''} · ${champion ? `champion v${esc(champion.version)}` : 'no champion yet'}</p>`;
  const body = gateRows(gate)
    .map(({ metric: m, ...r }) => `<tr><td>${esc(m)}</td><td>${num(r.value)}</td><td>${num(champion?.metrics[m])}</td><td>${esc(r.threshold ?? '')}</td><td>${esc(r.vsChampion ?? '')}</td><td class="${r.passed ? 'pass' : 'fail'}">${r.passed ? '✓' : '✗'}</td></tr>`)
    .join('');
  const warnings = (gate.warnings ?? []).map((w) => `<p>Warning: ${esc(w)}</p>`).join('');
  return `${head}<table id="gate-table"><thead><tr><th>metric</th><th>candidate</th><th>champion</th><th>threshold</th><th>vs champion</th><th>result</th></tr></thead><tbody>${body}</tbody></table>${warnings}`;
}

function variantsTable(data: ReportData): string {
  const rows = data.view.variants.map((v) => {
    const r = data.variants.find((x) => x.name === v.name);
    const e = r?.eval;
    const gate = v.error ? `<span class="fail">${esc(v.error)}</span>` : v.gate ? (v.gate.passed ? '<span class="pass">✓</span>' : '<span class="fail">✗</span>') : '';
    const training = v.cachedTraining ? 'cached' : r?.trainingMs !== undefined ? formatDuration(r.trainingMs) : '';
    return `<tr><td>${esc(v.name)}${v.name === data.view.selectedVariant ? ' (selected)' : ''}</td><td>${esc(Object.entries(v.params).map(([k, x]) => `${k}=${x}`).join(' '))}</td><td>${esc(training)}${v.resumedFromStep ? ` (resumed at ${v.resumedFromStep})` : ''}</td><td>${num(v.finalLoss, 4)}</td><td>${e ? `${e.correct}/${e.total}` : ''}</td><td>${num(v.metrics?.accuracy)}</td><td>${num(v.metrics?.latency_p50_ms, 1)} / ${num(v.metrics?.latency_p95_ms, 1)} / ${num(v.metrics?.latency_p99_ms, 1)}</td><td>${num(v.metrics?.memory_gb)}</td><td>${gate}</td></tr>`;
  });
  return `<table id="variants-table"><thead><tr><th>variant</th><th>params</th><th>training</th><th>final loss</th><th>correct</th><th>accuracy</th><th>p50 / p95 / p99 ms</th><th>memory GB</th><th>gate</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function decisions(v: PipelineStatus): string {
  const rows: string[] = [];
  const a = v.approval;
  if (a?.decision) rows.push(`<tr><td>${esc(a.decision.at)}</td><td>${esc(a.decision.decision)}</td><td>${esc(a.decision.by)}</td><td>${esc(a.decision.reason)}</td></tr>`);
  for (const r of a?.refused ?? []) rows.push(`<tr><td>${esc(r.at)}</td><td class="fail">refused</td><td>${esc(r.by)}</td><td>${esc(r.reason)}</td></tr>`);
  if (v.rollback) rows.push(`<tr><td>${esc(v.rollback.at)}</td><td class="fail">rolled back${v.rollback.automatic ? ' (automatic)' : ''}</td><td>${esc(v.rollback.by)}</td><td>${esc(v.rollback.reason)} → ${esc(v.rollback.restoredVersion)}</td></tr>`);
  const waiting = a && !a.decision ? `<p>Waiting for ${esc(a.approvers.join(', '))} until ${esc(a.deadline ?? '?')}.</p>` : '';
  const deployed = v.deployment ? `<p>Deployed <b>${esc(v.deployment.version)}</b> at ${esc(v.deployment.endpoint)}${v.deployment.modelVersion ? ` (MLflow version ${esc(v.deployment.modelVersion)})` : ''}; previous ${esc(v.deployment.previousVersion ?? 'none')}.${v.monitor ? ` Monitor: ${v.monitor.samples} samples, ${v.monitor.breaches} breaches.` : ''}</p>` : '';
  if (!rows.length) return `${waiting || '<p>No approval or rollback recorded.</p>'}${deployed}`;
  return `${waiting}<table id="decisions-table"><thead><tr><th>at</th><th>what</th><th>by</th><th>reason</th></tr></thead><tbody>${rows.join('')}</tbody></table>${deployed}`;
}
