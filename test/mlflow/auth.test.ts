import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MlflowClient, mlflowConfigFromEnv } from '../../src/activities/mlflow/client.js';
import { empty } from '../../src/activities/mlflow/schemas.js';
import { createMlflowActivities } from '../../src/activities/mlflow/tracking.js';
import { startMlflowServer, type RunningMlflow } from '../../src/stack/mlflow-server.js';
import { freePort } from '../../src/system/ports.js';
import { failureOf, pythonMlflow, runActivity, unique } from './support.js';

// MLflow 3.17 ships no default admin password (it refuses the old password1234): the admin is
// created from the config's admin_password on first start. The basic-auth app needs Flask-WTF
// (`mlflow[auth]`) and a static CSRF secret. The credential cache spares a PBKDF2 hash per request,
// which on a two-core machine makes the difference between seconds and a minute.
const ADMIN = { user: 'admin', password: 'slipway-test-admin-pw' };
let dir: string;
let server: RunningMlflow;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-mlflow-auth-'));
  const stateDir = path.join(dir, 'mlflow');
  mkdirSync(stateDir, { recursive: true });
  const authConfig = path.join(stateDir, 'basic_auth.ini');
  writeFileSync(
    authConfig,
    [
      '[mlflow]',
      'default_permission = READ',
      `database_uri = sqlite:///${path.join(stateDir, 'basic_auth.db')}`,
      `admin_username = ${ADMIN.user}`,
      `admin_password = ${ADMIN.password}`,
      'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
      'auth_cache_ttl_seconds = 300',
      '',
    ].join('\n'),
  );
  server = await startMlflowServer({
    port: await freePort(),
    stateDir,
    logFile: path.join(dir, 'mlflow.log'),
    appName: 'basic-auth',
    env: { MLFLOW_AUTH_CONFIG_PATH: authConfig, MLFLOW_FLASK_SERVER_SECRET_KEY: 'slipway-test-csrf' },
  });
});
afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const envFor = (user?: string, password?: string) => ({
  MLFLOW_TRACKING_URI: server.url,
  ...(user === undefined ? {} : { MLFLOW_TRACKING_USERNAME: user, MLFLOW_TRACKING_PASSWORD: password }),
});
const pipelineInput = () => ({
  experimentName: unique('auth'),
  pipelineName: 'tiny-llm',
  workflowId: unique('wf'),
  runId: 'r1',
  specParams: { seed: '1' },
  codeVersion: 'c0ffee',
  specJson: '{"name":"tiny-llm"}',
});

it('authenticates from MLFLOW_TRACKING_USERNAME/PASSWORD, artifact uploads included', async () => {
  const acts = createMlflowActivities({ config: mlflowConfigFromEnv(envFor(ADMIN.user, ADMIN.password)) });
  const { experimentId, mlflowRunId } = await runActivity(acts.mlflowStartPipelineRun, pipelineInput());
  const modelName = unique('tiny-llm');
  const { version } = await runActivity(acts.mlflowRegisterModelVersion, { modelName, source: `runs:/${mlflowRunId}/model`, mlflowRunId, workflowId: 'wf' });
  await runActivity(acts.mlflowPromote, { modelName, version });
  const seen = await pythonMlflow(
    server.url,
    "out = {'exp': client.get_run(args[0]).info.experiment_id, 'champion': client.get_model_version_by_alias(args[1], 'champion').version}",
    [mlflowRunId, modelName],
    { MLFLOW_TRACKING_USERNAME: ADMIN.user, MLFLOW_TRACKING_PASSWORD: ADMIN.password },
  );
  expect(seen).toEqual({ exp: experimentId, champion: version });
});

it('a wrong password or no credentials is a clear, non-retryable MlflowAuthFailed', async () => {
  for (const env of [envFor(ADMIN.user, 'not-the-password'), envFor()]) {
    const acts = createMlflowActivities({ config: mlflowConfigFromEnv(env) });
    const failure = await failureOf(runActivity(acts.mlflowStartPipelineRun, pipelineInput()));
    expect(failure.type).toBe('MlflowAuthFailed');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('rejected the credentials');
    expect(failure.message).toContain('MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD');
    expect(failure.message).not.toContain('not-the-password');
  }
});

it('a user without permission on a run gets a non-retryable MlflowAuthFailed (403)', async () => {
  const admin = new MlflowClient(mlflowConfigFromEnv(envFor(ADMIN.user, ADMIN.password)));
  const user = { name: unique('reader'), password: 'reader-password-123' };
  await admin.http.call('POST', 'users/create', empty.loose(), { body: { username: user.name, password: user.password } });
  const run = await admin.createRun({ experimentId: await admin.getOrCreateExperiment(unique('auth')) });
  // default_permission is READ: the reader may look but not write.
  const reader = createMlflowActivities({ config: mlflowConfigFromEnv(envFor(user.name, user.password)) });
  const failure = await failureOf(runActivity(reader.mlflowSetTags, { mlflowRunId: run.info.run_id, tags: { x: 'y' } }));
  expect(failure).toMatchObject({ type: 'MlflowAuthFailed', nonRetryable: true });
  expect(failure.message).toContain('denied permission');
  expect(failure.details).toEqual([{ status: 403, errorCode: 'PERMISSION_DENIED', endpoint: 'POST runs/log-batch' }]);
});
