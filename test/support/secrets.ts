// Secret values the suite hands to workers (MLflow credentials, a webhook token). The global
// teardown fails the suite if any of them shows up in a history on the suite's Temporal server.
export const TEST_SECRETS = {
  MLFLOW_TRACKING_USERNAME: 'slipway-test-user',
  MLFLOW_TRACKING_PASSWORD: 'mlflow-pw-7f3c9a1e5b',
  MLFLOW_TRACKING_TOKEN: 'mlflow-token-2d8e4b6a0c',
  SLIPWAY_WEBHOOK_URL: 'http://127.0.0.1:9/hooks/webhook-token-91b7c3f0e2',
} as const;

/** The values that must never leave the worker: in a history, or in a child's environment. */
export const SECRET_VALUES = [TEST_SECRETS.MLFLOW_TRACKING_PASSWORD, TEST_SECRETS.MLFLOW_TRACKING_TOKEN, 'webhook-token-91b7c3f0e2'];

/** Every secret any test uses (test/mlflow/auth.test.ts has its own MLflow passwords). */
export const ALL_TEST_SECRETS = [...SECRET_VALUES, 'slipway-test-admin-pw', 'reader-password-123'];
