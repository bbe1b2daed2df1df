// The suite-wide check that no secret reached Temporal: every history on the suite's server, read
// as exported JSON and with every base64 field decoded (payloads are base64 there), is searched.
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';

/** The text plus the decoding of every base64 string in it. */
export function withDecodedBase64(json: string): string {
  const decoded: string[] = [];
  JSON.parse(json, (_key, value: unknown) => {
    if (typeof value === 'string' && value.length >= 8 && /^[A-Za-z0-9+/]+={0,2}$/.test(value)) decoded.push(Buffer.from(value, 'base64').toString('latin1'));
    return value;
  });
  return `${json}\n${decoded.join('\n')}`;
}

/** `workflowId/runId: secret` for each history on the server that holds one of `secrets`, and how many were read. */
export async function secretsInHistories(address: string, secrets: readonly string[]): Promise<{ leaks: string[]; histories: number }> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    const leaks: string[] = [];
    let histories = 0;
    // The raw API: listing through the client would decode memos, and some runs are encrypted.
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await client.workflowService.listWorkflowExecutions({ namespace: 'default', pageSize: 500, nextPageToken });
      for (const wf of page.executions ?? []) {
        const workflowId = wf.execution?.workflowId ?? '';
        const runId = wf.execution?.runId ?? '';
        const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
        histories += 1;
        const text = withDecodedBase64(historyToJSON(history));
        for (const secret of secrets) if (text.includes(secret)) leaks.push(`${workflowId}/${runId}: ${secret.slice(0, 6)}…`);
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return { leaks, histories };
  } finally {
    await connection.close();
  }
}
