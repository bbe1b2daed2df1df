import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

const { greet } = proxyActivities<ReturnType<typeof createActivities>>({ startToCloseTimeout: '10 seconds' });

/** A one-activity workflow that proves the worker, the server and the CLI are wired together. */
export async function hello(name: string): Promise<string> {
  return greet(name);
}
