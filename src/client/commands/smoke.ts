// `slipway smoke`: the seed's deploy check against a live endpoint. Exit 0 passed, 1 a case
// failed (named), 2 bad input.
import type { Command } from 'commander';
import { runSmokeTest } from '../../activities/evaluation/smoke.js';
import type { SmokeReport } from '../../activities/evaluation/types.js';

export interface SmokeCommandOptions {
  endpoint: string;
  model?: string;
  timeoutMs?: number;
}

/** Runs the default smoke cases against the endpoint. */
export async function smokeCommand(opts: SmokeCommandOptions): Promise<SmokeReport> {
  return runSmokeTest({ endpoint: opts.endpoint, model: opts.model, timeoutMs: opts.timeoutMs });
}

/** One line per case that ran, then the verdict. */
export function formatSmokeReport(report: SmokeReport): string {
  const lines = report.cases.map((c) => {
    const status = c.status ?? 'no response';
    const tail = c.ok ? JSON.stringify(c.content_preview) : c.error;
    return `${c.ok ? '✅' : '❌'} ${JSON.stringify(c.prompt)}: ${status}, ${c.latency_ms.toFixed(1)} ms, ${tail}`;
  });
  lines.push(report.passed ? 'Smoke test passed.' : `Smoke test failed: ${report.failure}`);
  return lines.join('\n');
}

/** Registers `slipway smoke` on a commander program. */
export function registerSmokeCommand(program: Command): void {
  program
    .command('smoke')
    .description('send the smoke prompts to a deployed endpoint; exit 1 at the first failure')
    .option('--endpoint <url>', 'base URL of the OpenAI-compatible server')
    .option('--model <name>', 'model name sent with each request')
    .option('--timeout-ms <ms>', 'timeout per case', '30000')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExample:\n  $ slipway smoke --endpoint http://127.0.0.1:8000\n')
    .action(async (opts: { endpoint?: string; model?: string; timeoutMs: string; json?: boolean }) => {
      const timeoutMs = Number(opts.timeoutMs);
      const problem = !opts.endpoint ? 'missing --endpoint <url>' : !isHttpUrl(opts.endpoint) ? `--endpoint: not an http(s) URL: ${opts.endpoint}` : !(Number.isInteger(timeoutMs) && timeoutMs > 0) ? '--timeout-ms: expected a positive integer' : undefined;
      if (problem || !opts.endpoint) {
        process.stderr.write(`slipway smoke: ${problem}\n`);
        process.exitCode = 2;
        return;
      }
      const report = await smokeCommand({ endpoint: opts.endpoint, model: opts.model, timeoutMs });
      process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : formatSmokeReport(report)) + '\n');
      process.exitCode = report.passed ? 0 : 1;
    });
}

function isHttpUrl(s: string): boolean {
  try {
    return /^https?:$/.test(new URL(s).protocol);
  } catch {
    return false;
  }
}
