import { createHash } from 'node:crypto';
import type { MlflowClient, Run } from './client.js';
import { MlflowError } from './errors.js';

/** Tag that makes run creation idempotent: a retry finds the run its first attempt made. */
export const KEY_TAG = 'slipway.key';

/**
 * The key as stored in the tag. MLflow's filter language has no dependable escape for quotes,
 * so keys outside a plain alphabet are stored and searched as a digest instead.
 */
export function keyTagValue(key: string): string {
  return /^[\w.:/@+=,-]{1,250}$/.test(key) ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** MLflow ids (run ids) go into filter strings verbatim, so anything but [A-Za-z0-9_-] is refused. */
export function assertMlflowId(id: string, what: string): string {
  if (!/^[\w-]+$/.test(id)) {
    throw new MlflowError(`${what} '${id}' is not an MLflow id`, { errorCode: 'INVALID_PARAMETER_VALUE', retryable: false, type: 'MlflowError', endpoint: 'input' });
  }
  return id;
}

/** The run keyed `key` (under `parentRunId` when given), oldest first; undefined when there is none. */
export async function findRunByKey(client: MlflowClient, experimentId: string, key: string, parentRunId?: string): Promise<Run | undefined> {
  let filter = `tags.\`${KEY_TAG}\` = '${keyTagValue(key)}'`;
  if (parentRunId !== undefined) filter += ` and tags.\`mlflow.parentRunId\` = '${assertMlflowId(parentRunId, 'parentRunId')}'`;
  // The oldest wins, so that even after a race every retry settles on the same run.
  const runs = await client.searchRuns({ experimentIds: [experimentId], filter, orderBy: ['attributes.start_time ASC'], maxResults: 1 });
  return runs[0];
}
