// Heartbeats for activities that only wait (on a router, a model server, a smoke test): the serving
// proxy has a heartbeat timeout, so a worker killed in the middle of one is noticed in seconds and
// the activity is retried on another worker, instead of after its whole start-to-close timeout.
import { Context } from '@temporalio/activity';

/** How often a waiting activity heartbeats; well inside the serving proxy's heartbeat timeout. */
const BEAT_MS = 5_000;

/** Runs `fn`, heartbeating (no details) until it settles. */
export async function heartbeating<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), BEAT_MS);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
