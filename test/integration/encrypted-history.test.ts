// Encrypted history on the real dev server: with SLIPWAY_CODEC_KEYS_FILE set on the worker and the
// CLI, the server holds only ciphertext of the spec, prompts, answers and reasons; `slipway status`
// and the codec server (called as the Temporal UI calls it) decode them; a rotated key still does.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findTool } from '../../src/system/tools.js';
import { freePort } from '../../src/system/ports.js';
import type { PipelineStatus } from '../../src/workflows/status.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { withDecodedBase64 } from '../support/history-secrets.js';
import { runCli, startCli, startWorkerProcess, type CliProcess, type WorkerProcess } from '../support/processes.js';
import { writeSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-codec-'));
const stateDir = path.join(dir, 'state');
const k1 = { id: 'k1', key: randomBytes(32).toString('base64') };
const k2 = { id: 'k2', key: randomBytes(32).toString('base64') };
const keysFile = (name: string, body: object) => {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(body));
  return file;
};
const original = keysFile('keys-v1.json', { keys: [k1] });
const rotated = keysFile('keys-v2.json', { current: 'k2', keys: [k1, k2] });
const onlyNew = keysFile('keys-only-k2.json', { keys: [k2] });
const queues = ['--task-queue', 'enc', '--serving-task-queue', 'enc-serving', '--gpu-task-queue', 'enc-gpu'];
const TOKEN = 'codec-token-5a1e9f3b7c2d';
const UI = 'http://localhost:8233';
const cli = (keys: string) => ({ TEMPORAL_ADDRESS: address, SLIPWAY_CODEC_KEYS_FILE: keys });

// Distinctive strings: none may appear in the server's history as plain text (or as plain base64).
const PROMPT = 'PROMPT-zebra-42 tell me';
const REASON = 'REASON-okapi-7 the eval looks right';

let worker: WorkerProcess | undefined;
let codecServer: CliProcess | undefined;
beforeAll(async () => {
  worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir, ...queues], { SLIPWAY_CODEC_KEYS_FILE: original, MLFLOW_TRACKING_URI: inject('mlflowUrl') });
});
afterAll(async () => {
  await codecServer?.stop();
  await worker?.kill();
  await stopLocalDeployments(stateDir);
});

function temporalShow(id: string): string {
  return execFileSync(findTool('temporal'), ['workflow', 'show', '--workflow-id', id, '--address', address, '--output', 'json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

describe('encrypted history', () => {
  it('keeps commands, prompts, answers and reasons out of the server, and decodes them for status, the UI and after a rotation', async () => {
    const spec = writeSpec({ name: 'encrypted', deployPort: await endpointPort(), approval: { approvers: ['alice'], timeout: '1h' }, smoke: { cases: [{ prompt: PROMPT, max_tokens: 20 }] } });
    const started = await runCli(['run', spec, '--release', 'e1', ...queues, '--json'], cli(original));
    expect(started.code, started.stderr).toBe(0);
    const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    let view: PipelineStatus | undefined;
    let last = '';
    for (let i = 0; i < 200 && view?.stage !== 'awaiting-approval'; i++) {
      const res = await runCli(['status', id, '--json'], cli(original));
      last = res.stderr || res.stdout.slice(0, 400);
      view = res.code === 0 ? (JSON.parse(res.stdout) as PipelineStatus) : undefined;
      if (view?.stage !== 'awaiting-approval') await new Promise((r) => setTimeout(r, 500));
    }
    expect(view?.stage, last).toBe('awaiting-approval');
    const approved = await runCli(['approve', id, '--as', 'alice', '--reason', REASON], cli(original));
    expect(approved.code, approved.stderr).toBe(0);
    const waited = await runCli(['run', spec, '--release', 'e1', ...queues, '--wait', '--json'], cli(original));
    expect(waited.code, waited.stderr).toBe(0);

    // The server's record of the whole release: ciphertext only, read as JSON and with every base64
    // field decoded (unencrypted payloads are base64 JSON there).
    const history = temporalShow(id);
    const readable = withDecodedBase64(history);
    expect(readable).toContain('binary/encrypted');
    for (const s of [PROMPT, REASON, 'counting-job.mjs', 'openai-server-main.ts', 'eval.jsonl', 'alice']) expect(readable).not.toContain(s);

    // The CLI with the keys shows it all.
    const status = await runCli(['status', id, '--json'], cli(original));
    const shown = JSON.parse(status.stdout) as PipelineStatus;
    expect(shown.stage).toBe('completed');
    expect(shown.approval?.decision).toMatchObject({ by: 'alice', reason: REASON, signed: false });

    // The codec server, called as the UI calls it: a CORS preflight, then POST /decode.
    const port = await freePort();
    codecServer = await startCli(['codec-server', '--port', String(port), '--ui-origin', UI], { SLIPWAY_CODEC_KEYS_FILE: rotated, SLIPWAY_CODEC_SERVER_TOKEN: TOKEN }, 'listening');
    const base = `http://127.0.0.1:${port}`;
    const preflight = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { origin: UI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace,authorization' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/x-namespace/);
    const started0 = (JSON.parse(history) as { events: Array<{ workflowExecutionStartedEventAttributes?: { input: { payloads: unknown[] } } }> }).events[0]!;
    const body = JSON.stringify({ payloads: started0.workflowExecutionStartedEventAttributes!.input.payloads });
    const headers = { origin: UI, 'content-type': 'application/json', 'x-namespace': 'default' };
    expect((await fetch(`${base}/decode`, { method: 'POST', headers, body })).status).toBe(401);
    const decoded = await fetch(`${base}/decode`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${TOKEN}` }, body });
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('access-control-allow-origin')).toBe(UI);
    const payload = ((await decoded.json()) as { payloads: Array<{ data: string; metadata: Record<string, string> }> }).payloads[0]!;
    expect(Buffer.from(payload.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(Buffer.from(payload.data, 'base64').toString()).toContain(PROMPT);
    // The token may also lead the path, for a UI that cannot send headers.
    expect((await fetch(`${base}/${TOKEN}/decode`, { method: 'POST', headers, body })).status).toBe(200);

    // After a rotation the old run still reads; without its key it cannot.
    const afterRotation = await runCli(['status', id, '--json'], cli(rotated));
    expect(afterRotation.code, afterRotation.stderr).toBe(0);
    expect((JSON.parse(afterRotation.stdout) as PipelineStatus).approval?.decision?.reason).toBe(REASON);
    const withoutOld = await runCli(['status', id, '--json'], cli(onlyNew));
    expect(withoutOld.code).not.toBe(0);
    expect(withoutOld.stderr).toMatch(/key "k1", which is not among the configured keys/);
    // Listing needs no key: ids, stages and states are search attributes, never encrypted.
    const listed = await runCli(['list', '--json'], { TEMPORAL_ADDRESS: address });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ workflowId: id, stage: 'completed', status: 'COMPLETED' }));
    // New payloads use the current key.
    const encoded = await fetch(`${base}/encode`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"x"').toString('base64') }] }) });
    const k = ((await encoded.json()) as { payloads: Array<{ metadata: Record<string, string> }> }).payloads[0]!.metadata['encryption-key-id'];
    expect(Buffer.from(k!, 'base64').toString()).toBe('k2');
  }, 300_000);
});
