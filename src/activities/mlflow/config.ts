import { z } from 'zod';

/** How to reach MLflow. Built once by the worker at start; it never enters workflow inputs or history. */
export interface MlflowConfig {
  /** http(s) URL of the MLflow tracking server, e.g. http://127.0.0.1:5000. */
  trackingUri: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** With `password`, sent as HTTP basic auth (MLflow's `basic-auth` app). */
  username?: string;
  password?: string;
  /** Per request; default 30 s. */
  requestTimeoutMs?: number;
}

const envSchema = z
  .object({
    MLFLOW_TRACKING_URI: z
      .string({ error: 'MLFLOW_TRACKING_URI: required (the MLflow server URL, e.g. http://127.0.0.1:5000)' })
      .regex(/^https?:\/\/\S+$/, 'MLFLOW_TRACKING_URI: expected an http:// or https:// URL of an MLflow server'),
    MLFLOW_TRACKING_TOKEN: z.string().min(1).optional(),
    MLFLOW_TRACKING_USERNAME: z.string().min(1).optional(),
    MLFLOW_TRACKING_PASSWORD: z.string().min(1).optional(),
    // MLflow's own client reads this name too (seconds).
    MLFLOW_HTTP_REQUEST_TIMEOUT: z.coerce.number().positive('MLFLOW_HTTP_REQUEST_TIMEOUT: expected seconds > 0').optional(),
  })
  .refine((e) => (e.MLFLOW_TRACKING_USERNAME === undefined) === (e.MLFLOW_TRACKING_PASSWORD === undefined), {
    message: 'MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD: set both or neither',
  });

/**
 * Reads MLflow's standard environment variables (the names MLflow's own client uses):
 * MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME/PASSWORD, MLFLOW_HTTP_REQUEST_TIMEOUT.
 * Throws an Error whose message names the variable and the rule.
 */
export function mlflowConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MlflowConfig {
  const blankToUndefined = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);
  const parsed = envSchema.safeParse({
    MLFLOW_TRACKING_URI: blankToUndefined(env.MLFLOW_TRACKING_URI),
    MLFLOW_TRACKING_TOKEN: blankToUndefined(env.MLFLOW_TRACKING_TOKEN),
    MLFLOW_TRACKING_USERNAME: blankToUndefined(env.MLFLOW_TRACKING_USERNAME),
    MLFLOW_TRACKING_PASSWORD: blankToUndefined(env.MLFLOW_TRACKING_PASSWORD),
    MLFLOW_HTTP_REQUEST_TIMEOUT: blankToUndefined(env.MLFLOW_HTTP_REQUEST_TIMEOUT),
  });
  if (!parsed.success) throw new Error(`MLflow configuration: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const e = parsed.data;
  const config: MlflowConfig = { trackingUri: e.MLFLOW_TRACKING_URI.replace(/\/+$/, '') };
  if (e.MLFLOW_TRACKING_TOKEN) config.token = e.MLFLOW_TRACKING_TOKEN;
  if (e.MLFLOW_TRACKING_USERNAME && e.MLFLOW_TRACKING_PASSWORD) {
    config.username = e.MLFLOW_TRACKING_USERNAME;
    config.password = e.MLFLOW_TRACKING_PASSWORD;
  }
  if (e.MLFLOW_HTTP_REQUEST_TIMEOUT) config.requestTimeoutMs = e.MLFLOW_HTTP_REQUEST_TIMEOUT * 1000;
  return config;
}
