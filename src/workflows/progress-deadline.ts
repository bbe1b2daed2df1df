// The rollout's progress deadline (Argo Rollouts' progressDeadlineSeconds): a canary step that makes no
// progress for that long is given up. Deterministic: the clock is workflow time, its waits are timers.
import { CancellationScope, condition, isCancellation } from '@temporalio/workflow';

export type DeadlineOutcome<T> = { done: true; value: T } | { done: false };

export interface DeadlineWatch {
  /** While true the clock stops, as Argo does not time a paused rollout; it restarts where it stopped. */
  paused(): boolean;
  /** A count that grows with each sign of progress (a measurement taken); each change restarts the clock. */
  progress(): number;
}

/**
 * Runs `step` in its own cancellation scope with `ms` of progressing time between two signs of
 * progress. On expiry the scope is cancelled (its activity and timers with it) and the answer is
 * `{ done: false }`; a step that settles first answers its value, or throws its error.
 */
export async function withinDeadline<T>(ms: number, watch: DeadlineWatch, step: () => Promise<T>): Promise<DeadlineOutcome<T>> {
  const scope = new CancellationScope();
  const state: { settled?: { value: T } | { error: unknown } } = {};
  // Read through a function: the handlers below set it between awaits, out of the compiler's sight.
  const settled = () => state.settled;
  const running = scope.run(step).then(
    (value) => void (state.settled = { value }),
    (error: unknown) => void (state.settled = { error }),
  );
  let left = ms;
  let seen = watch.progress();
  while (!settled()) {
    const from = new Date().getTime();
    // At least 1 ms: a pause that began as the time ran out leaves nothing left when it ends.
    await condition(() => settled() !== undefined || watch.paused() || watch.progress() !== seen, Math.max(1, left));
    left -= new Date().getTime() - from;
    if (settled()) break;
    if (watch.progress() !== seen) {
      seen = watch.progress();
      left = ms;
    } else if (watch.paused()) {
      await condition(() => settled() !== undefined || !watch.paused());
    } else if (left <= 0) {
      scope.cancel();
      await running;
      // Settled in the same activation as the expiry: its own outcome stands.
      const outcome = settled()!;
      if ('error' in outcome && isCancellation(outcome.error)) return { done: false };
      break;
    }
  }
  const outcome = settled()!;
  if ('error' in outcome) throw outcome.error;
  return { done: true, value: outcome.value };
}
