import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export const historiesDir = path.join(import.meta.dirname, '..', 'histories');

/**
 * Saves the history of a real run into test/histories/ for the replay test, when
 * SLIPWAY_RECORD_HISTORIES=1 (re-record after an intended change to workflow logic).
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.SLIPWAY_RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  // Proto JSON, the format `temporal workflow show --output json` writes.
  writeFileSync(path.join(historiesDir, `${name}.json`), `${historyToJSON(history)}\n`);
}
