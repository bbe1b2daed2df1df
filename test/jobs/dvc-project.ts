// A real DVC project for the DVC tests (DVC from .venv, no git): data.bin tracked and pushed to a
// local DVC remote, and a job that proves where its input came from.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findTool } from '../../src/system/tools.js';
import { tempDir } from './support.js';

export const dvc = (cwd: string, ...args: string[]) => execFileSync(findTool('dvc'), args, { cwd, stdio: 'pipe', env: { ...process.env, DVC_NO_ANALYTICS: '1' } }).toString();

/** A DVC project with data.bin tracked and pushed to a local remote (`remote`). */
export function dvcProject(): { dir: string; stateDir: string; remote: string } {
  const root = tempDir('slipway-dvc-');
  const dir = path.join(root, 'project');
  const remote = path.join(root, 'remote');
  mkdirSync(dir);
  dvc(dir, 'init', '--no-scm', '-q');
  dvc(dir, 'remote', 'add', '-d', 'local', remote);
  writeFileSync(path.join(dir, 'data.bin'), 'first version of the data\n');
  dvc(dir, 'add', '-q', 'data.bin');
  dvc(dir, 'push', '-q');
  return { dir, stateDir: path.join(root, 'state'), remote };
}

export const recordedMd5 = (dir: string) => /md5: ([0-9a-f]{32})/.exec(readFileSync(path.join(dir, 'data.bin.dvc'), 'utf8'))![1];

/**
 * A job (node -e) that reports its own pid, then copies data.bin from its cwd as the artifact: with the
 * DVC wrapper's `dvc_pulled` event (which carries the pid it pulled in, then exec'd the job), the
 * job's log shows that the pull ran in the job's own process, on the job's host.
 */
export const copyDataJob = [
  process.execPath,
  '-e',
  "const fs=require('fs'),p=require('path');console.log(JSON.stringify({type:'job_pid',pid:process.pid}));" +
    "const out=p.join(process.env.SLIPWAY_OUTPUT_DIR,'model.bin');fs.copyFileSync('data.bin',out);console.log(JSON.stringify({type:'artifact',path:out}))",
];

/** The `dvc_pulled` and `job_pid` events in a job's log text. */
export function pullWitness(log: string): { pulled: { targets: string[]; pid: number; cwd: string } | undefined; jobPid: number | undefined } {
  const events = log.split('\n').flatMap((l) => (l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : []));
  const pulled = events.find((e) => e.type === 'dvc_pulled') as { targets: string[]; pid: number; cwd: string } | undefined;
  return { pulled, jobPid: events.find((e) => e.type === 'job_pid')?.pid as number | undefined };
}
