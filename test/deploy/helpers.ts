// Shared pieces of the deploy tests: the fake model server run as a real process, chat requests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServeConfig } from '../../src/activities/deploy/target.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The test-double model server (test/support/openai-server-main.ts) as a deploy target starts any model server. */
export const fakeServe: ServeConfig = {
  command: [process.execPath, '--import', 'tsx', path.join(repoRoot, 'test/support/openai-server-main.ts'), '--port', '{port}', '--model', '{model}'],
  cwd: repoRoot,
  healthPath: '/health',
  startupTimeoutMs: 60_000,
};

export async function chat(endpoint: string, prompt = 'Hello'): Promise<{ status: number; version: string | null; content: string | undefined }> {
  const res = await fetch(`${endpoint}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: prompt }] }),
  });
  const body = (await res.json()) as { choices?: Array<{ message: { content: string } }> };
  return { status: res.status, version: res.headers.get('x-slipway-version'), content: body.choices?.[0]?.message.content };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** The `{"type":"ready",...}` lines a model server printed: one per process that started. */
export function readyLines(logFile: string): Array<{ port: number; model: string | null }> {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"type":"ready"'))
    .map((l) => JSON.parse(l) as { port: number; model: string | null });
}
