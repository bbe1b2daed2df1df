import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
/** The workflow bundle's entry, next to this file: .ts when run from source (tests), .js when built. */
export const workflowsPath = path.join(path.dirname(here), 'workflows', `index${path.extname(here)}`);
