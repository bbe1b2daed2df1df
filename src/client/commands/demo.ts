import proto from '@temporalio/proto';
import type { Command } from 'commander';
import path from 'node:path';
import { PipelineSpecSchema } from '../../spec/schema.js';
import { startDevStack, type DevStack } from '../../stack/dev-stack.js';
import { httpOk } from '../../stack/process.js';
import { packageRoot } from '../../system/tools.js';
import { DEFAULT_QUEUES } from '../../queues.js';
import { connectClient } from '../connection.js';
import { ExitError, EXIT } from '../errors.js';
import { bold, formatRelease, printLines } from '../output.js';
import { SlipwayClient, type ReleaseView } from '../slipway-client.js';
import { loadSpec, type LoadedSpec } from '../spec-file.js';
import { port, positiveInt, stackOptions, stackSettings, type StackFlags } from './dev.js';
import { exitCodeFor, watchRelease } from './run.js';

interface DemoFlags extends StackFlags {
  approve?: boolean;
  steps?: string;
  port: string;
  exit?: boolean;
}

const DEMO_SPEC = path.join(packageRoot, 'examples', 'tiny-llm', 'pipeline.yaml');
const DEMO_APPROVER = 'demo-approver';

/** The demo spec, with the flags' training steps and endpoint port. */
function demoSpec(flags: DemoFlags): LoadedSpec {
  const loaded = loadSpec(DEMO_SPEC);
  const raw = structuredClone(loaded.spec);
  if (flags.steps !== undefined) raw.train.params.steps = positiveInt(flags.steps, '--steps');
  raw.deploy.port = port(flags.port, '--port');
  return { ...loaded, spec: PipelineSpecSchema.parse(raw) };
}

/** Uses a running `slipway dev` when there is one; otherwise starts the embedded stack here. */
async function ensureStack(flags: DemoFlags): Promise<{ stack?: DevStack; uiUrl: string; mlflowUrl: string; address: string }> {
  const settings = stackSettings(flags);
  const address = `127.0.0.1:${settings.temporalPort}`;
  const uiUrl = `http://127.0.0.1:${settings.uiPort}`;
  const mlflowUrl = `http://127.0.0.1:${settings.mlflowPort}`;
  const pollers = await connectClient({ address }).then(
    async (c) => {
      try {
        const tq = await c.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: DEFAULT_QUEUES.orchestration },
          taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        });
        return tq.pollers?.length ?? 0;
      } finally {
        await c.connection.close();
      }
    },
    () => undefined,
  );
  if (pollers !== undefined) {
    if (!pollers || !(await httpOk(`${mlflowUrl}/health`).catch(() => false))) {
      throw new ExitError(
        `Temporal answers at ${address}, but no Slipway worker and MLflow are there with it. Start \`slipway dev\` (or stop what runs on ${address}) and run the demo again.`,
        EXIT.environment,
      );
    }
    printLines([`demo: using the running stack at ${address} (worker from \`slipway dev\`)`]);
    return { uiUrl, mlflowUrl, address };
  }
  const stack = await startDevStack({
    ...settings,
    mlflow: true,
    worker: true,
    gpus: 1,
    log: (line) => printLines([`demo: ${line}`]),
    workerLogToFile: true,
  });
  return { stack, uiUrl, mlflowUrl, address };
}

export function registerDemoCommand(program: Command): void {
  stackOptions(
    program
      .command('demo')
      .description('release the tiny-llm example end to end on the embedded stack: train, evaluate, gate, approve, deploy, smoke-test, monitor'),
  )
    .option('--approve', `approve the release as ${DEMO_APPROVER} when it reaches the approval gate`)
    .option('--steps <n>', 'training steps (default: the spec\'s 1200; fewer fail the gate)')
    .option('--port <port>', 'port of the deployed model\'s stable endpoint', '8000')
    .option('--exit', 'stop the stack and exit when the release ends (for scripts; by default the stack stays up until Ctrl-C)')
    .addHelpText('after', '\nExample:\n  $ slipway demo --approve\n  $ slipway demo            # then approve from another shell or the Temporal UI')
    .action(async (flags: DemoFlags) => {
      const loaded = demoSpec(flags);
      const { stack, uiUrl, mlflowUrl, address } = await ensureStack(flags);
      // Ctrl-C at any point stops what the demo started; the release itself is durable and goes on
      // at the next `slipway dev` with the same state dir.
      const interrupted = new Promise<'interrupted'>((resolve) => {
        for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve('interrupted'));
      });
      // A worker or server that stops on its own ends the demo with its error (a hang would help nobody).
      const workerFailed = stack ? Promise.race([stack.running.then(() => new Promise<never>(() => undefined)), stack.died]) : new Promise<never>(() => undefined);
      const client = new SlipwayClient(await connectClient({ address }));
      let view: ReleaseView | 'interrupted';
      try {
        const release = `demo-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`;
        const { workflowId } = await client.start(loaded, { release });
        const runUrl = `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
        printLines([`demo: started ${bold(workflowId)}`, `demo: watch it in the Temporal UI: ${runUrl}`]);
        let asked = false;
        const watching = watchRelease(client, workflowId, true, async (v) => {
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
        view = await Promise.race([watching, interrupted, workflowFailedError(workerFailed)]);
        if (view !== 'interrupted') printSummary(view, runUrl, mlflowUrl, loaded, stack ? path.resolve(flags.stateDir, 'logs') : undefined);
      } catch (err) {
        await stack?.stop();
        throw err;
      } finally {
        await client.client.connection.close();
      }
      if (view === 'interrupted') {
        printLines(['', 'demo: interrupted; stopping. The release is durable: `slipway dev` (same --state-dir) picks it up again.']);
      } else if (stack && !flags.exit) {
        // The links above point at this stack: keep it up until the user is done looking.
        printLines(['', `demo: the stack stays up so the links work (Temporal UI, MLflow, the endpoint); press Ctrl-C to stop it${view.deployment ? ' (the deployed endpoint keeps serving; `slipway undeploy` stops it)' : ''}.`]);
        await interrupted;
      }
      await stack?.stop();
      process.exitCode = view === 'interrupted' ? 130 : exitCodeFor(view);
    });
}

/** What stopped under the demo, as its error. */
async function workflowFailedError(failed: Promise<never>): Promise<never> {
  return failed.catch((err: unknown) => {
    throw new Error(`the demo's stack stopped: ${err instanceof Error ? err.message : String(err)}`);
  });
}

function printSummary(view: ReleaseView, runUrl: string, mlflowUrl: string, loaded: LoadedSpec, logs: string | undefined): void {
  printLines(['', ...formatRelease(view), '', bold('Where to look:'), `  Temporal UI: ${runUrl}`, `  MLflow:      ${mlflowUrl}/#/models/${loaded.spec.model.name}`]);
  if (logs) printLines([`  Logs:        ${logs}/ (temporal, mlflow, worker)`]);
  if (view.deployment && view.stage === 'completed') {
    printLines([
      `  Endpoint:    ${view.deployment.endpoint}/v1/chat/completions (OpenAI-compatible), e.g.`,
      `    curl -s ${view.deployment.endpoint}/v1/chat/completions -H 'content-type: application/json' -d '{"messages":[{"role":"user","content":"What is 23+45?"}]}'`,
    ]);
  }
}
