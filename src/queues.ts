// Roles and their task queues: a pure module shared by workflows, the worker and the client.

/**
 * What a worker does. Each role owns a kind of state and runs the work that touches it:
 * orchestration (workflows, MLflow, notifications, checks), serving (candidate servers, the stable
 * endpoint, evaluation, smoke tests, monitor samples, rollbacks) and gpu (training jobs).
 */
export type Role = 'orchestration' | 'serving' | 'gpu';
export const ROLES: readonly Role[] = ['orchestration', 'serving', 'gpu'];

/** The task queue of each role. */
export type SlipwayQueues = Record<Role, string>;

export const DEFAULT_QUEUES: SlipwayQueues = { orchestration: 'slipway', serving: 'slipway-serving', gpu: 'slipway-gpu' };

/** Parses `orchestration,serving` (a CLI flag) into roles; throws naming the bad entry. */
export function parseRoles(text: string): Role[] {
  const roles = text.split(',').map((r) => r.trim()).filter(Boolean);
  const unknown = roles.filter((r) => !ROLES.includes(r as Role));
  if (unknown.length || !roles.length) {
    throw new Error(`unknown role ${JSON.stringify(unknown[0] ?? text)}: expected a comma-separated list of ${ROLES.join(', ')}`);
  }
  return [...new Set(roles as Role[])];
}
