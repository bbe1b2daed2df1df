import type { Command } from 'commander';
import path from 'node:path';
import { PipelineSpecSchema } from '../../spec/schema.js';
import { startDevStack, type DevStack } from '../../stack/dev-stack.js';
import { httpOk } from '../../stack/process.js';
import { packageRoot } from '../../stack/tools.js';
import { connectClient } from '../connection.js';
import { ExitError, EXIT } from '../errors.js';
import { bold, formatRelease, isTty, printLines } from '../output.js';
import { SlipwayClient, type ReleaseView } from '../slipway-client.js';
import { loadSpec, type LoadedSpec } from '../spec-file.js';
import { port } from './dev.js';
import { exitCodeFor, watchRelease } from './run.js';

interface DemoFlags {
  approve?: boolean;
  steps?: string;
  port: string;
  stateDir: string;
  temporalPort: string;
  uiPort: string;
  mlflowPort: string;
  exit?: boolean;
}

const DEMO_SPEC = path.join(packageRoot, 'examples', 'tiny-llm', 'pipeline.yaml');
const DEMO_APPROVER = 'demo-approver';

/** The demo spec, with the flags' training steps and endpoint port. */
function demoSpec(flags: DemoFlags): LoadedSpec {
  const loaded = loadSpec(DEMO_SPEC);
  const steps = flags.steps === undefined ? undefined : Number(flags.steps);
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1)) throw new ExitError(`--steps ${flags.steps}: expected a positive integer`, EXIT.usage);
  const raw = structuredClone(loaded.spec);
  if (steps !== undefined) raw.train.params.steps = steps;
  raw.deploy.port = port(flags.port, '--port');
  return { ...loaded, spec: PipelineSpecSchema.parse(raw) };
}

/** Uses a running `slipway dev` when there is one; otherwise starts the embedded stack here. */
async function ensureStack(flags: DemoFlags): Promise<{ stack?: DevStack; uiUrl: string; mlflowUrl: string; address: string }> {
  const address = `127.0.0.1:${port(flags.temporalPort, '--temporal-port')}`;
  const uiUrl = `http://127.0.0.1:${port(flags.uiPort, '--ui-port')}`;
  const mlflowUrl = `http://127.0.0.1:${port(flags.mlflowPort, '--mlflow-port')}`;
  const running = await connectClient({ address }).then(
    async (c) => (await c.connection.close(), true),
    () => false,
  );
  if (running && (await httpOk(`${mlflowUrl}/health`).catch(() => false))) {
    printLines([`demo: using the running stack at ${address} (worker from \`slipway dev\`)`]);
    return { uiUrl, mlflowUrl, address };
  }
  const stack = await startDevStack({
    stateDir: flags.stateDir,
    temporalPort: port(flags.temporalPort, '--temporal-port'),
    uiPort: port(flags.uiPort, '--ui-port'),
    mlflowPort: port(flags.mlflowPort, '--mlflow-port'),
    mlflow: true,
    worker: true,
    gpus: 1,
    log: (line) => printLines([`demo: ${line}`]),
    workerLogToFile: true,
  });
  return { stack, uiUrl, mlflowUrl, address };
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('release the tiny-llm example end to end on the embedded stack: train, evaluate, gate, approve, deploy, smoke-test, monitor')
    .option('--approve', `approve the release as ${DEMO_APPROVER} when it reaches the approval gate`)
    .option('--steps <n>', 'training steps (default: the spec\'s 1200; fewer fail the gate)')
    .option('--port <port>', 'port of the deployed model\'s stable endpoint', '8000')
    .option('--state-dir <dir>', 'where the embedded stack keeps its state', '.slipway')
    .option('--temporal-port <port>', 'Temporal frontend port', '7233')
    .option('--ui-port <port>', 'Temporal Web UI port', '8233')
    .option('--mlflow-port <port>', 'MLflow port', '5000')
    .option('--exit', 'stop the stack and exit when the release ends (default on a non-TTY)')
    .addHelpText('after', '\nExample:\n  $ slipway demo --approve\n  $ slipway demo            # then approve from another shell or the Temporal UI')
    .action(async (flags: DemoFlags) => {
      const loaded = demoSpec(flags);
      const { stack, uiUrl, mlflowUrl, address } = await ensureStack(flags);
      let view: ReleaseView;
      try {
        const client = new SlipwayClient(await connectClient({ address }));
        const release = `demo-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`;
        const { workflowId } = await client.start(loaded, { release });
        const runUrl = `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
        printLines([`demo: started ${bold(workflowId)}`, `demo: watch it in the Temporal UI: ${runUrl}`]);
        let asked = false;
        view = await watchRelease(client, workflowId, true, async (v) => {
          if (v.stage !== 'awaiting-approval' || asked) return;
          asked = true;
          if (flags.approve) {
            await client.approve(workflowId, { approver: DEMO_APPROVER, reason: 'approved by slipway demo --approve' });
          } else {
            printLines([
              '',
              `demo: the release passed the gate and waits for approval. Approve it with:`,
              `  npx slipway approve ${workflowId} --as alice --reason "looks good"`,
              `or in the Temporal UI: ${runUrl} → Send Signal → name "approve", input {"approver":"alice","reason":"looks good"}`,
            ]);
          }
        });
        await client.client.connection.close();
        printLines(['', ...formatRelease(view), '', bold('Where to look:'), `  Temporal UI: ${runUrl}`, `  MLflow:      ${mlflowUrl}/#/models/${loaded.spec.model.name}`]);
        if (stack) printLines([`  Logs:        ${path.resolve(flags.stateDir, 'logs')}/ (temporal, mlflow, worker)`]);
        if (view.deployment && view.stage === 'completed') {
          printLines([
            `  Endpoint:    ${view.deployment.endpoint}/v1/chat/completions (OpenAI-compatible), e.g.`,
            `    curl -s ${view.deployment.endpoint}/v1/chat/completions -H 'content-type: application/json' -d '{"messages":[{"role":"user","content":"What is 23+45?"}]}'`,
          ]);
        }
      } catch (err) {
        await stack?.stop();
        throw err;
      }
      if (stack && isTty && !flags.exit) {
        printLines(['', 'The stack stays up so you can look around; press Ctrl-C to stop it.']);
        await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      }
      await stack?.stop();
      process.exitCode = exitCodeFor(view);
    });
}
