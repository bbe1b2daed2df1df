import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (or installed package) root: src/stack/ or dist/stack/ sit two levels below it. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** How to install the tools: the repo's npm script, or the setup script inside an installed package. */
const setupHint = packageRoot.split(path.sep).includes('node_modules') ? `bash ${path.join(packageRoot, 'scripts', 'setup.sh')}` : 'npm run setup';

export type ToolName = 'temporal' | 'temporal-test-server' | 'mlflow' | 'python' | 'ray' | 'dvc' | 'traefik' | 'prometheus';

const envVars: Record<ToolName, string> = {
  temporal: 'TEMPORAL_CLI_PATH',
  'temporal-test-server': 'TEMPORAL_TEST_SERVER_PATH',
  mlflow: 'MLFLOW_CLI_PATH',
  python: 'SLIPWAY_PYTHON',
  ray: 'RAY_CLI_PATH',
  dvc: 'DVC_CLI_PATH',
  traefik: 'TRAEFIK_PATH',
  prometheus: 'PROMETHEUS_PATH',
};

/** Raised when a tool Slipway runs cannot be found; the message says how to install it. */
export class ToolNotFoundError extends Error {
  readonly code = 'SLIPWAY_TOOL_NOT_FOUND';
  constructor(
    readonly tool: ToolName,
    problem = `${tool} not found`,
  ) {
    super(
      `${problem}. Run \`${setupHint}\` (installs it into ${path.join(packageRoot, '.venv')}/), put \`${tool}\` on PATH, ` +
        `or set ${envVars[tool]}=/path/to/${tool}.`,
    );
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a tool: an explicit env var first, then PATH, then the repo's .venv/bin.
 * The venv's Python is preferred over PATH's so the example finds torch.
 */
export function findTool(tool: ToolName, env: NodeJS.ProcessEnv = process.env, venvBin = path.join(packageRoot, '.venv', 'bin')): string {
  const explicit = env[envVars[tool]];
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new ToolNotFoundError(tool, `${envVars[tool]}=${explicit} is not an executable file`);
  }
  const name = tool === 'python' ? 'python3' : tool;
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const order = tool === 'python' ? [venvBin, ...dirs] : [...dirs, venvBin];
  for (const dir of order) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  throw new ToolNotFoundError(tool);
}
