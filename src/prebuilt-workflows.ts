// Slipway's workflow code bundled once, by `npm run build`, rather than by every orchestration
// worker as it starts: bundling takes seconds of CPU and leaves the worker about 80 MiB larger for
// as long as it runs (bench/worker-rss.ts).
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { existsSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { workflowsPath } from './worker-paths.js';
import { uniqueTempPath } from './system/files.js';

const BUNDLE_FILE = 'workflow-bundle.js';
const codeRoot = path.dirname(path.dirname(workflowsPath));
/** Beside the compiled code: `dist/workflow-bundle.js`. */
export const workflowBundlePath = path.join(codeRoot, BUNDLE_FILE);

/**
 * The bundle for this worker's workflows, or null when it runs from source (tests, tsx): there the
 * workflows are bundled at start, so they never lag the sources.
 */
export const ownWorkflowBundle = (): string | null => (path.extname(workflowsPath) === '.js' ? prebuiltWorkflowBundle(codeRoot) : null);

/**
 * The bundle `npm run build` wrote under `root` (the compiled code), or null when there is none or
 * a compiled file is newer than it (a `tsc` without the bundle step).
 */
export function prebuiltWorkflowBundle(root: string): string | null {
  const bundle = path.join(root, BUNDLE_FILE);
  if (!existsSync(bundle)) return null;
  const bundled = statSync(bundle).mtimeMs;
  const compiled = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js') && f !== BUNDLE_FILE);
  return compiled.every((f) => statSync(path.join(root, f)).mtimeMs <= bundled) ? bundle : null;
}

/** Bundles the compiled workflows into `workflowBundlePath` (written whole, then renamed). */
export async function writeWorkflowBundle(): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  const tmp = uniqueTempPath(workflowBundlePath);
  writeFileSync(tmp, code);
  renameSync(tmp, workflowBundlePath);
  return workflowBundlePath;
}
