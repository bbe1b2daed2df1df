// `slipway worker --max-cached-workflows`: a bad value stops the worker before it connects, naming
// the flag and what it takes.
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/processes.js';

describe('slipway worker --max-cached-workflows', () => {
  it.each(['1', 'many', '0'])('refuses %s with a usage error', async (value) => {
    const res = await runCli(['worker', '--max-cached-workflows', value, '--address', '127.0.0.1:1']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`--max-cached-workflows: expected a whole number of at least 2, got "${value}"`);
  });
});
