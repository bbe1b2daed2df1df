// `npm run build`'s last step: bundles the compiled workflows for the orchestration worker.
import path from 'node:path';
import { writeWorkflowBundle } from './prebuilt-workflows.js';

const file = await writeWorkflowBundle();
console.log(`workflow bundle: ${path.relative(process.cwd(), file)}`);
