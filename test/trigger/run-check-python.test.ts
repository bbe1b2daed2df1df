import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheckActivities, type CheckResult, type RunCheckInput } from '../../src/activities/checks/run-check.js';
import { findTool } from '../../src/system/tools.js';

// MockActivityEnvironment is the SDK's activity context for tests; the check commands are real processes.
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-run-check-'));
const { runCheck } = createCheckActivities({ stateDir });
const run = (input: RunCheckInput) => new MockActivityEnvironment().run(runCheck, input) as Promise<CheckResult>;
const savedPython = process.env.SLIPWAY_PYTHON;
afterEach(() => {
  if (savedPython === undefined) delete process.env.SLIPWAY_PYTHON;
  else process.env.SLIPWAY_PYTHON = savedPython;
});

describe('runCheck: {python} in a check command', () => {
  it("runs the worker's Python, as train and serve commands do", async () => {
    const result = await run({ name: 'which-python', command: ['{python}', '-c', 'import sys; print(sys.executable)'], cwd: stateDir });
    expect(result).toMatchObject({ exitCode: 0, passed: true, logTail: findTool('python') });
  });

  it('a worker without that Python fails the check with the fix in its log, not the activity', async () => {
    process.env.SLIPWAY_PYTHON = path.join(stateDir, 'no-such-python');
    const result = await run({ name: 'lint', command: ['{python}', '-m', 'ruff', 'check', 'src/'], cwd: stateDir });
    expect(result).toMatchObject({ exitCode: null, passed: false });
    const log = readFileSync(result.logPath, 'utf8');
    expect(log).toContain('slipway: cannot run "{python}": SLIPWAY_PYTHON=');
    expect(log).toContain('is not an executable file');
    expect(result.logTail).toBe(log.trim());
  });
});
