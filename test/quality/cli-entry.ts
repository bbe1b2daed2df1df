// A minimal CLI entry for the tests: registers the quality commands on a fresh commander program,
// as src/client/cli.ts does, so the tests run them as a real process with real exit codes.
import { Command } from 'commander';
import { registerEvalCommand } from '../../src/client/commands/eval.js';
import { registerGateCommand } from '../../src/client/commands/gate.js';
import { registerSmokeCommand } from '../../src/client/commands/smoke.js';

const program = new Command('slipway');
registerEvalCommand(program);
registerGateCommand(program);
registerSmokeCommand(program);
await program.parseAsync(process.argv);
