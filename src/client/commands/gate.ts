// `slipway gate`: checks a metrics file against gates.json (and optionally a champion's metrics).
// Exit codes: 0 passed, 1 failed, 2 bad input (unreadable file, invalid JSON, wrong type in config).
// Memory that was not measured fails only when the config sets max_memory_gb; otherwise the check
// is skipped with a ⚠️ line, so `eval` → `gate` works against a server without /metrics.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { evaluateGate, formatGateReport, type GateConfig, type GateReport } from '../../quality/gate.js';
import { parseGateConfig, parseMetrics, type Parsed } from '../../quality/gate-config.js';

/** Bad input to a command; the CLI prints the message and exits 2. */
export class GateInputError extends Error {
  readonly code = 'SLIPWAY_BAD_INPUT';
}

export interface GateCommandOptions {
  metrics: string;
  config: string;
  champion?: string;
}

/** Reads the files and runs the gate; throws GateInputError naming the file and field. */
export async function gateCommand(opts: GateCommandOptions): Promise<{ report: GateReport; config: GateConfig; warnings: string[] }> {
  const config = await load(opts.config, parseGateConfig);
  const metrics = await load(opts.metrics, parseMetrics);
  const champion = opts.champion ? await load(opts.champion, parseMetrics) : undefined;
  const warnings = (config.warnings ?? []).map((w) => `${opts.config}: ${w}`);
  const report = evaluateGate(metrics.value, config.value, champion?.value);
  // A gated metric that is there but not a number is bad input, not a missing measurement.
  const raw = JSON.parse(await readFile(opts.metrics, 'utf8')) as Record<string, unknown>;
  const notNumbers = report.lines.map((l) => l.metric).filter((m) => raw[m] !== undefined && raw[m] !== null && !(typeof raw[m] === 'number' && Number.isFinite(raw[m])));
  if (notNumbers.length) throw new GateInputError(notNumbers.map((m) => `${opts.metrics}: ${m}: expected a number, got ${JSON.stringify(raw[m])}`).join('\n'));
  return { report, config: config.value, warnings };
}

async function load<T>(file: string, parse: (raw: unknown) => Parsed<T>): Promise<Extract<Parsed<T>, { ok: true }>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new GateInputError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new GateInputError(`${file}: invalid JSON (${(err as Error).message})`);
  }
  const parsed = parse(raw);
  if (!parsed.ok) throw new GateInputError(parsed.issues.map((i) => `${file}: ${i}`).join('\n'));
  return parsed;
}

/** Registers `slipway gate` on a commander program. */
export function registerGateCommand(program: Command): void {
  program
    .command('gate')
    .description('check evaluation metrics against the quality gates (exit 1 when a gate fails)')
    .option('--metrics <file>', 'metrics JSON: accuracy, latency_p99_ms, memory_gb (the output of `slipway eval --json` works)')
    .option('--config <file>', 'gates JSON: min_accuracy, max_latency_ms, max_memory_gb (set it to require a memory measurement)', 'gates.json')
    .option('--champion <file>', "the champion's metrics JSON, for max_regression_vs_champion")
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExample:\n  $ slipway eval --endpoint http://127.0.0.1:8000 --dataset eval.jsonl --json > metrics.json\n  $ slipway gate --metrics metrics.json --config gates.json\n')
    .action(async (opts: Partial<GateCommandOptions> & { json?: boolean }) => {
      try {
        if (!opts.metrics) throw new GateInputError('missing --metrics <file>');
        const { report, warnings } = await gateCommand({ metrics: opts.metrics, config: opts.config ?? 'gates.json', champion: opts.champion });
        for (const w of warnings) process.stderr.write(`slipway gate: ⚠️ ${w}\n`);
        process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : formatGateReport(report)) + '\n');
        process.exitCode = report.passed ? 0 : 1;
      } catch (err) {
        if (!(err instanceof GateInputError)) throw err;
        process.stderr.write(`slipway gate: ${err.message}\n`);
        process.exitCode = 2;
      }
    });
}
