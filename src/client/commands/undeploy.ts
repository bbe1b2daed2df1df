import type { Command } from 'commander';
import { LocalDeployTarget } from '../../activities/deploy/local.js';
import { printJson, printLines } from '../output.js';

/** Local deployments outlive `slipway dev` on purpose (the endpoint keeps serving); this ends one. */
export function registerUndeployCommand(program: Command): void {
  program
    .command('undeploy')
    .description("stop a local deployment: its model servers and its stable endpoint")
    .argument('<pipeline>', 'the pipeline (deployment) name, e.g. tiny-llm')
    .option('--state-dir <dir>', 'the worker\'s state dir', process.env.SLIPWAY_STATE_DIR ?? '.slipway')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ slipway undeploy tiny-llm')
    .action(async (pipeline: string, flags: { stateDir: string; json?: boolean }) => {
      await new LocalDeployTarget({ stateDir: flags.stateDir }).stopAll({ deploymentName: pipeline });
      if (flags.json) printJson({ deployment: pipeline, stopped: true });
      else printLines([`stopped the local deployment ${pipeline} (model servers and stable endpoint)`]);
    });
}
