// The serving role's reconciler: a loop in the serving worker (at start, then every few seconds)
// that brings each deployment in its state dir back to what its state file says, whatever happened
// to the processes meanwhile. It lives in the worker rather than in the deploy target's calls because
// nothing calls the target while a release only waits (for approval, or between monitor samples),
// and Traefik and the model servers are detached: a worker started later cannot watch them as
// children, only look at them again. So, on each pass:
// - a promote or rollback that a killed worker left half done is finished (see local.ts, switchTo);
// - a dead Traefik is started again with the same routes, so the live version keeps serving;
// - a candidate whose owning release no longer runs (terminated, reset, timed out from outside) is
//   stopped, and a canary among them loses its traffic first. Live and previous versions stay;
// - a canary whose server exited loses its traffic, so its share of requests goes to the live version.
import type { DeploymentRepair } from './local.js';
import type { DeployTarget } from './target.js';

/** A deploy target the reconciler can repair (the local target; remote ones reconcile themselves). */
export interface Reconcilable {
  deployments(): string[];
  candidates(deploymentName: string): Array<{ version: string; owner: string }>;
  repair(deploymentName: string, goneOwners: ReadonlySet<string>): Promise<DeploymentRepair>;
}

/** Whether the release with this workflow id still runs; undefined when that cannot be told now (Temporal unreachable). */
export type ReleaseRunning = (workflowId: string) => Promise<boolean | undefined>;

const reconcilable = (t: DeployTarget): t is DeployTarget & Reconcilable => typeof (t as Partial<Reconcilable>).repair === 'function';

/** One pass over every deployment of every reconcilable target; returns what it changed. One deployment's failure (reported) does not stop the others. */
export async function reconcileOnce(targets: Record<string, DeployTarget>, isRunning: ReleaseRunning, onError: (err: unknown) => void): Promise<DeploymentRepair[]> {
  const repairs: DeploymentRepair[] = [];
  for (const target of Object.values(targets).filter(reconcilable)) {
    for (const name of target.deployments()) {
      try {
        // Temporal is asked outside the deployment's lock, so a slow answer never holds up a promote.
        const owners = new Set(target.candidates(name).map((c) => c.owner));
        const gone = new Set<string>();
        for (const owner of owners) if ((await isRunning(owner)) === false) gone.add(owner);
        const repair = await target.repair(name, gone);
        if (repair.finishedSwitch || repair.routerRestarted || repair.stoppedOrphans.length || repair.withdrawnCanary) repairs.push(repair);
      } catch (err) {
        onError(err);
      }
    }
  }
  return repairs;
}

export interface ReconcilerOptions {
  targets: Record<string, DeployTarget>;
  isRunning: ReleaseRunning;
  intervalMs: number;
  onRepair: (repair: DeploymentRepair) => void;
  onError: (err: unknown) => void;
}

/** Runs reconcileOnce now and then every `intervalMs` (passes never overlap) until stop(). */
export function startReconciler(opts: ReconcilerOptions): { stop(): Promise<void> } {
  return repeatEvery(opts.intervalMs, async () => {
    for (const repair of await reconcileOnce(opts.targets, opts.isRunning, opts.onError)) opts.onRepair(repair);
  }, opts.onError);
}

/** Runs `pass` now and then every `intervalMs` after the last one ended (passes never overlap) until stop(). */
export function repeatEvery(intervalMs: number, pass: () => Promise<void>, onError: (err: unknown) => void): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const run = async () => {
    try {
      await pass();
    } catch (err) {
      onError(err);
    }
    if (!stopped) timer = setTimeout(() => (current = run()), intervalMs);
  };
  current = run();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
