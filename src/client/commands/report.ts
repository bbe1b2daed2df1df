import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { MlflowClient, mlflowConfigFromEnv } from '../../activities/mlflow/client.js';
import { EXIT } from '../errors.js';
import { printJson, printLines } from '../output.js';
import { reportData } from '../report/data.js';
import { reportHtml } from '../report/html.js';
import { connectionOptions, withClient, type ConnectionFlags } from './common.js';

interface ReportFlags extends ConnectionFlags {
  out?: string;
  /** false with --no-mlflow */
  mlflow?: boolean;
}

/** The artifact path of the report in the release's MLflow run. */
export const REPORT_ARTIFACT = 'report/release-report.html';

export function registerReportCommand(program: Command): void {
  connectionOptions(
    program
      .command('report')
      .description("write a release's report: one self-contained HTML file (stage timeline, loss curve, latency histogram, gate vs champion, variants, approvals, rollbacks), also logged to the release's MLflow run")
      .argument('<workflow-id>', 'e.g. release:tiny-llm:v3')
      .option('--out <file>', 'where to write it (default: <workflow id>.html in the current directory)')
      .option('--no-mlflow', "do not log it to the release's MLflow run")
      .option('--json', 'print JSON: where it went'),
  )
    .addHelpText('after', '\nExample:\n  $ slipway report release:tiny-llm:v3 --out report.html\n\nMLflow: MLFLOW_TRACKING_URI (and token or user/password) from the environment, as for the worker.')
    .action(async (id: string, flags: ReportFlags) =>
      withClient(flags, async (client) => {
        const data = await reportData(client, id);
        const html = reportHtml(data);
        const file = path.resolve(flags.out ?? `${id.replace(/[^a-zA-Z0-9._-]/g, '_')}.html`);
        writeFileSync(file, html);
        let mlflow: { runId: string; artifactPath: string } | { skipped: string } | { failed: string };
        const run = data.view.mlflow;
        if (flags.mlflow === false) mlflow = { skipped: '--no-mlflow' };
        else if (!run) mlflow = { skipped: 'the release has no MLflow run (mlflow.enabled: false)' };
        else {
          try {
            await new MlflowClient(mlflowConfigFromEnv()).logArtifactBytes(run.runId, REPORT_ARTIFACT, html);
            mlflow = { runId: run.runId, artifactPath: REPORT_ARTIFACT };
          } catch (err) {
            mlflow = { failed: err instanceof Error ? err.message : String(err) };
            // The file is written; not reaching MLflow is the environment's problem, and says so.
            process.exitCode = EXIT.environment;
          }
        }
        if (flags.json) return printJson({ workflowId: id, file, bytes: Buffer.byteLength(html), mlflow });
        const where = 'runId' in mlflow ? `logged to MLflow run ${mlflow.runId} as ${mlflow.artifactPath}` : 'skipped' in mlflow ? `not logged to MLflow: ${mlflow.skipped}` : `not logged to MLflow: ${mlflow.failed}`;
        printLines([`wrote ${file}`, where]);
      }),
    );
}
