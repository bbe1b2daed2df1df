// Runs the fake model server as its own process, as a deploy target starts a model server:
//   node --import tsx test/support/openai-server-main.ts --port 8001 [--model FILE] [--fail-prompt TEXT ...] [--wrong-prompt TEXT ...]
// FAKE_MODEL_FAIL=1 makes every request fail (monitor breach tests); --fail-prompt fails only that prompt;
// --wrong-prompt answers that prompt with "wrong answer" (a model worse on some questions);
// --slow-prompt answers that prompt after --slow-ms (a latency regression on live traffic only).
import { parseArgs } from 'node:util';
import { startFakeModelServer } from './openai-server.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, model: { type: 'string' }, 'fail-prompt': { type: 'string', multiple: true }, 'wrong-prompt': { type: 'string', multiple: true }, 'slow-prompt': { type: 'string', multiple: true }, 'slow-ms': { type: 'string', default: '250' } } });
const server = await startFakeModelServer({ alwaysFail: process.env.FAKE_MODEL_FAIL === '1', failPrompts: values['fail-prompt'] ?? [], slowPrompts: values['slow-prompt'] ?? [], slowMs: Number(values['slow-ms']), answers: Object.fromEntries((values['wrong-prompt'] ?? []).map((p) => [p, 'wrong answer'])) }, Number(values.port));
process.stdout.write(JSON.stringify({ type: 'ready', port: server.port, model: values.model ?? null }) + '\n');
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
