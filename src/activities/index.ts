/** Everything an activity needs from the outside, handed in by the worker (or a test). */
export interface ActivityDeps {
  /** Directory for job logs, checkpoints, deployments. */
  stateDir: string;
}

/** Builds the activities the Slipway worker registers. */
export function createActivities(_deps: ActivityDeps) {
  return {
    async greet(name: string): Promise<string> {
      return `Hello, ${name}! Slipway's worker is up.`;
    },
  };
}

export type SlipwayActivities = ReturnType<typeof createActivities>;
