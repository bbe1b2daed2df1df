// Starts a job process for the local backend: the command runs under a small Node supervisor that
// leads the job's own process group and, as the command ends, writes how it ended to a file. The
// outcome then outlives the worker that started the job: a restarted worker, which is not the
// job's parent and so can never wait for it, still learns the exit code.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, closeSync, constants as fs, openSync, statSync } from 'node:fs';
import path from 'node:path';

/** What the supervisor writes: the command's own exit code, or the signal that ended it. */
export interface ExitRecord {
  code: number | null;
  signal: string | null;
}

// Runs with `node -e` (no file to find from source or from dist). A stop signal reaches the whole
// group; the supervisor outlives it (its listeners do nothing) so it can record the job's end. One
// that came before the job started (a launch replaced at once) means: do not start it. The check
// runs after one turn of the event loop, so any signal already received has been seen; libuv's
// spawn blocks signals across fork, so the job itself gets every signal sent after that.
const SUPERVISOR = `
const { spawn } = require('node:child_process');
const { renameSync, writeFileSync } = require('node:fs');
const { constants } = require('node:os');
const [exitFile, command, ...args] = process.argv.slice(1);
let stopped = null;
for (const s of ['SIGHUP', 'SIGINT', 'SIGTERM']) process.on(s, () => { stopped = stopped || s; });
function record(code, signal) {
  writeFileSync(exitFile + '.tmp', JSON.stringify({ code, signal }) + '\\n');
  renameSync(exitFile + '.tmp', exitFile);
  process.exit(code === null ? 128 + (constants.signals[signal] || 0) : code);
}
setImmediate(() => {
  if (stopped) return record(null, stopped);
  const child = spawn(command, args, { stdio: 'inherit' });
  child.on('error', (err) => { process.stderr.write('[slipway] could not start ' + command + ': ' + err.message + '\\n'); record(127, null); });
  child.on('exit', (code, signal) => record(code, signal));
});
`;

/** Why a command cannot be run: `ENOENT` (not found) or `EACCES` (not executable). */
export class CommandNotRunnable extends Error {
  constructor(
    readonly command: string,
    readonly errno: 'ENOENT' | 'EACCES',
  ) {
    super(`${JSON.stringify(command)} ${errno === 'ENOENT' ? 'was not found' : 'is not executable'}`);
  }
}

/** Finds `command` as exec would: a path (against `cwd`) when it has a slash, else on `searchPath`. */
export function resolveExecutable(command: string, cwd: string, searchPath: string | undefined): string {
  const candidates = command.includes('/')
    ? [path.resolve(cwd, command)]
    : (searchPath ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.resolve(cwd, dir, command));
  let errno: 'ENOENT' | 'EACCES' = 'ENOENT';
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, fs.X_OK);
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') errno = 'EACCES';
    }
  }
  throw new CommandNotRunnable(command, errno);
}

/**
 * Spawns `argv` (argv[0] already resolved) under the supervisor, detached, output appended to
 * `logPath`, its end recorded in `exitPath`. Resolves once the process exists; rejects with the spawn error.
 */
export async function spawnJob(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logPath: string; exitPath: string }): Promise<ChildProcess & { pid: number }> {
  const fd = openSync(opts.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['-e', SUPERVISOR, '--', opts.exitPath, ...argv], { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
  if (child.pid === undefined) {
    const [err] = (await once(child, 'error')) as [Error];
    throw err;
  }
  child.unref(); // a running job must not keep a finished worker (or CLI) alive
  return child as ChildProcess & { pid: number };
}
