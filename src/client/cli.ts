// The `slipway` CLI: each command lives in commands/ and returns data; this file only wires them.
import { Command, CommanderError } from 'commander';
import { registerAuditCommand } from './commands/audit.js';
import { registerCodecServerCommand } from './commands/codec-server.js';
import { registerDecisionCommands } from './commands/decide.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDevCommand } from './commands/dev.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerGateCommand } from './commands/gate.js';
import { registerSmokeCommand } from './commands/smoke.js';
import { registerReportCommand } from './commands/report.js';
import { registerRolloutCommands } from './commands/rollout.js';
import { registerRunCommand } from './commands/run.js';
import { registerScheduleCommands } from './commands/schedule.js';
import { registerSignCommand } from './commands/sign.js';
import { registerStatusCommands } from './commands/status.js';
import { registerUndeployCommand } from './commands/undeploy.js';
import { registerTriggerCommand } from './commands/trigger.js';
import { registerWorkerCommand } from './commands/worker.js';
import { describeError, EXIT } from './errors.js';

// A reader that went away (`slipway list | head -1`) is not an error: stop quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok);
  });
}

const program = new Command('slipway')
  // Commander's own usage errors (unknown flag, missing argument) exit 2 like every other bad input.
  .exitOverride()
  .description('Durable LLM release pipelines on Temporal: train → evaluate → gate → approve → deploy → smoke → monitor')
  .version('0.1.0')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Exit codes: ${EXIT.ok} ok, ${EXIT.failed} release/check failed, ${EXIT.usage} bad input, ${EXIT.notFound} not found, ${EXIT.refused} refused, ${EXIT.environment} environment not ready.

Example:
  $ slipway dev                                  # Temporal + UI + MLflow + worker
  $ slipway run examples/tiny-llm/pipeline.yaml --wait`,
  );

registerDemoCommand(program);
registerDevCommand(program);
registerWorkerCommand(program);
registerRunCommand(program);
registerStatusCommands(program);
registerReportCommand(program);
registerDecisionCommands(program);
registerSignCommand(program);
registerAuditCommand(program);
registerCodecServerCommand(program);
registerRolloutCommands(program);
registerUndeployCommand(program);
registerEvalCommand(program);
registerGateCommand(program);
registerSmokeCommand(program);
registerScheduleCommands(program);
registerTriggerCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has printed the message (or the help) already.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    const { message, exitCode } = describeError(err);
    process.stderr.write(`slipway: ${message}\n`);
    process.exitCode = exitCode;
  }
}
