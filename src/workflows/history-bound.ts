// When a long wait should continue as new: Temporal suggests it (history count or size past the
// server's threshold), or the run's history reached Slipway's own bound. A flood of messages then
// costs one new run, not a history the server terminates at its hard limit.
import { workflowInfo } from '@temporalio/workflow';

/** Events per run of a long wait: far below Temporal's limit (51,200), and cheap to replay. */
export const DEFAULT_MAX_HISTORY_EVENTS = 2000;

export function historyTooLong(maxEvents = DEFAULT_MAX_HISTORY_EVENTS): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= maxEvents;
}
