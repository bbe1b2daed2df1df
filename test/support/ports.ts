// Ports for stable endpoints in tests. A release binds its deploy.port only when it deploys, often
// minutes after the spec is written; a port from freePort() lies in the kernel's ephemeral range,
// where any outgoing connection or listen(0) in between may take it (CI saw StablePortInUse so).
// These come from below that range, where only a fixed choice binds.
import { ephemeralPortRange, isPortFree } from '../../src/system/ports.js';

const handedOut = new Set<number>();

/** A free port below the kernel's ephemeral range, not handed out before by this process. */
export async function endpointPort(): Promise<number> {
  const high = Math.min(ephemeralPortRange()?.low ?? 32768, 32768);
  const low = Math.min(20000, high - 1000);
  for (let i = 0; i < 1000; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port) || !(await isPortFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found between ${low} and ${high}`);
}
