// Reading payloads that come back raw from Temporal's API (start inputs, heartbeat details) through
// the client's data converter, so that encrypted ones are decrypted like every other payload.
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';

export async function decodePayload<T>(client: Client, payload: Payload | null | undefined): Promise<T | undefined> {
  if (!payload) return undefined;
  return decodeFromPayloadsAtIndex<T>(client.options.loadedDataConverter, 0, [payload]);
}
