// Watching a release's chain of runs on the time-skipping server: its status (asked again when a
// query meets a run that just continued as new), signals sent one at a time until the run continues,
// and the histories of every run in the chain.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import proto from '@temporalio/proto';
import { setTimeout as sleep } from 'node:timers/promises';
import { statusQuery } from '../../src/workflows/messages.js';
import type { PipelineStatus } from '../../src/workflows/status.js';

export const EventType = proto.temporal.api.enums.v1.EventType;

export function chainHelpers(env: () => TestWorkflowEnvironment) {
  const handle = (id: string, runId?: string) => env().client.workflow.getHandle(id, runId);
  /**
   * The status, asked again when a query meets the run that just continued as new: the
   * time-skipping server leaves such a query unanswered, so each try has a deadline.
   */
  async function query(id: string): Promise<PipelineStatus> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await env().client.connection.withDeadline(Date.now() + 3_000, () => handle(id).query(statusQuery));
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
  }
  async function waitFor(id: string, ok: (s: PipelineStatus) => boolean): Promise<PipelineStatus> {
    for (let i = 0; i < 300; i++) {
      const s = await query(id);
      if (ok(s)) return s;
      await sleep(100);
    }
    throw new Error(`${id}: condition never met`);
  }

  /**
   * Invalid signals, one at a time, each handled before the next, until the release runs in a new
   * run of its chain; returns how many were sent. Watched through the history, not the status query:
   * a query that meets the run just as it continues as new goes unanswered on the time-skipping server.
   */
  async function floodUntilContinued(id: string, signal = 'approve'): Promise<number> {
    for (let sent = 1; sent <= 200; sent++) if (await send(id, signal, { nonsense: sent })) return sent;
    throw new Error(`${id} never continued as new`);
  }

  /** Sends a signal and waits until it is handled; true when the run then continued as new. */
  async function send(id: string, name: string, payload: unknown): Promise<boolean> {
    const { runId } = await handle(id).describe();
    await handle(id).signal(name, payload);
    return handled(id, runId);
  }

  const busy = new Set([EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]);
  /** Waits until the run has handled what it was sent; true when it did so by continuing as new. */
  async function handled(id: string, runId: string): Promise<boolean> {
    for (let i = 0; i < 200; i++) {
      const last = (await handle(id, runId).fetchHistory()).events?.at(-1);
      if (last?.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW) return true;
      if (last?.eventType && !busy.has(last.eventType)) return false;
      await sleep(20);
    }
    throw new Error(`${id} did not handle its signal`);
  }

  /** Every run of the chain, oldest first, and the event types of each. */
  async function chainHistories(id: string, firstRunId: string): Promise<Array<{ runId: string; events: proto.temporal.api.history.v1.IHistoryEvent[] }>> {
    const runs = [];
    for (let runId: string | null | undefined = firstRunId; runId; ) {
      const history = await handle(id, runId).fetchHistory();
      runs.push({ runId, events: history.events ?? [] });
      runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    }
    return runs;
  }

  return { handle, query, waitFor, floodUntilContinued, send, handled, chainHistories };
}
