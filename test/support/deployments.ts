import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { LocalDeployTarget } from '../../src/activities/deploy/local.js';

/** Local deployments outlive workers by design; a test ends the ones its runs left in `stateDir`. */
export async function stopLocalDeployments(stateDir: string): Promise<void> {
  const dir = path.join(stateDir, 'deployments');
  if (!existsSync(dir)) return;
  const target = new LocalDeployTarget({ stateDir });
  for (const name of readdirSync(dir)) await target.stopAll({ deploymentName: name });
}
