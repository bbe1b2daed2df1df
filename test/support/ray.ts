// A real single-node Ray head for the test files that need one: the run's shared head (see
// shared-ray-head.ts), started on free ports with its own temp dir by the first such file and
// stopped by the global teardown (its own process group only; never `ray stop`).
import { beforeAll, inject } from 'vitest';
import { sharedRayHead } from './shared-ray-head.js';

export { RAY_CPUS } from './shared-ray-head.js';

/** The shared head for the calling file; the returned getter gives its Jobs API address once it is up. */
export function useRayHead(): () => string {
  let address: string | undefined;
  beforeAll(async () => {
    address = await sharedRayHead(inject('servicesDir'));
  }, 180_000);
  return () => {
    if (!address) throw new Error('the Ray head is not up (beforeAll failed?)');
    return address;
  };
}
