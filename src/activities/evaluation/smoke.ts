// The seed's post-deploy smoke test: each case must answer HTTP 200 with non-empty
// choices[0].message.content. It stops at the first failure and names it. It reports rather than
// throws: whether a failed smoke test rolls back is the workflow's decision.
import { request } from 'undici';
import { DEFAULT_SMOKE_CASES } from '../../spec/schema.js';
import { chatUrl } from './http.js';
import type { SmokeCase, SmokeCaseResult, SmokeInput, SmokeReport } from './types.js';

const DEFAULT_TIMEOUT_MS = 30_000;

/** Runs the smoke cases in order against `input.endpoint`; never throws for a failing case. */
export async function runSmokeTest(input: SmokeInput): Promise<SmokeReport> {
  const url = chatUrl(input.endpoint);
  const cases = input.cases ?? DEFAULT_SMOKE_CASES;
  const results: SmokeCaseResult[] = [];
  for (const c of cases) {
    const result = await runCase(url, input.model, c, input.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    results.push(result);
    if (!result.ok) return { passed: false, cases: results, failure: `${JSON.stringify(c.prompt)}: ${result.error}` };
  }
  return { passed: true, cases: results };
}

async function runCase(url: URL, model: string | undefined, c: SmokeCase, timeoutMs: number): Promise<SmokeCaseResult> {
  const body = JSON.stringify({ ...(model && { model }), messages: [{ role: 'user', content: c.prompt }], max_tokens: c.max_tokens, temperature: 0 });
  const started = performance.now();
  const latency = () => Math.round((performance.now() - started) * 1000) / 1000;
  let status: number;
  let text: string;
  try {
    const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    const timedOut = (err as Error).name === 'TimeoutError';
    const error = timedOut ? `no answer within ${timeoutMs} ms` : `request failed: ${(err as { code?: string }).code ?? (err as Error).message}`;
    return { prompt: c.prompt, status: null, latency_ms: latency(), ok: false, error };
  }
  const latency_ms = latency();
  if (status !== 200) return { prompt: c.prompt, status, latency_ms, ok: false, error: `HTTP ${status}: ${text.slice(0, 200)}` };
  let content: unknown;
  try {
    content = (JSON.parse(text) as { choices?: Array<{ message?: { content?: unknown } }> }).choices?.[0]?.message?.content;
  } catch {
    return { prompt: c.prompt, status, latency_ms, ok: false, error: 'response body is not JSON' };
  }
  if (typeof content !== 'string' || content.trim() === '') return { prompt: c.prompt, status, latency_ms, ok: false, error: 'empty content' };
  return { prompt: c.prompt, status, latency_ms, ok: true, content_preview: content.slice(0, 80) };
}
