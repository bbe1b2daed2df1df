import { findTool } from '../system/tools.js';

/**
 * Expands `{python}` in a spec command to the worker's Python (SLIPWAY_PYTHON, else the repo's
 * .venv, else PATH), so one spec runs on a laptop, in CI and in the worker image alike.
 */
export function expandCommand(command: string[]): string[] {
  return command.includes('{python}') ? command.map((a) => (a === '{python}' ? findTool('python') : a)) : command;
}
