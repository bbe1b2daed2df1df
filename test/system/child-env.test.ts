// What the worker's children see of its environment: what they need and what the spec names,
// never its credentials. The check is a real subprocess reading its own /proc/<pid>/environ.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheckActivities } from '../../src/activities/checks/run-check.js';
import { childEnv } from '../../src/system/child-env.js';
import { activityEnv, runActivity } from '../jobs/support.js';
import { SECRET_VALUES, TEST_SECRETS } from '../support/secrets.js';

const saved = { ...process.env };
beforeAll(() => Object.assign(process.env, TEST_SECRETS, { SLIPWAY_CODEC_KEYS_FILE: '/etc/keys', SLIPWAY_STATE_HINT: 'kept', LC_ALL: 'C.UTF-8' }));
afterAll(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
});

describe('childEnv', () => {
  it('passes what a process needs and the spec names, withholds credentials', () => {
    const env = childEnv({ HF_HUB_OFFLINE: '1', MY_FLAG: 'x' }, { base: { PATH: '/bin', HOME: '/h', LC_ALL: 'C', PYTHONPATH: '/p', AWS_SECRET_ACCESS_KEY: 's', ...TEST_SECRETS, HOOK: 'h', SLIPWAY_USER: 'u' }, withheld: ['HOOK'] });
    expect(env).toEqual({ PATH: '/bin', HOME: '/h', LC_ALL: 'C', PYTHONPATH: '/p', SLIPWAY_USER: 'u', HF_HUB_OFFLINE: '1', MY_FLAG: 'x' });
  });
});

describe('a check command run by the worker', () => {
  it('sees neither the MLflow credentials nor the webhook URL in /proc/<pid>/environ', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-childenv-'));
    const { runCheck } = createCheckActivities({ stateDir });
    const { env } = activityEnv();
    const res = await runActivity(env, runCheck, { name: 'env', command: ['sh', '-c', `tr '\\0' '\\n' < /proc/$$/environ`], cwd: stateDir });
    expect(res.passed).toBe(true);
    expect(res.logTail).toMatch(/^PATH=/m);
    expect(res.logTail).toMatch(/^SLIPWAY_STATE_HINT=kept$/m);
    expect(res.logTail).toMatch(/^LC_ALL=C.UTF-8$/m);
    for (const secret of SECRET_VALUES) expect(res.logTail).not.toContain(secret);
    expect(res.logTail).not.toMatch(/MLFLOW_TRACKING_(PASSWORD|TOKEN|USERNAME)|SLIPWAY_WEBHOOK_URL|SLIPWAY_CODEC_KEYS_FILE/);
  });
});
