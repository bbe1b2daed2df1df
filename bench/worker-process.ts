// A `slipway worker` process for the benches: started from a built CLI, returned once it polls,
// and its resident memory as /proc reports it.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Starts `node <cli> worker ...args`; resolves once it prints that it polls, rejects if it exits first. */
export async function startBuiltWorker(cli: string, args: string[], opts: { stderr: 'ignore' | number; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<ChildProcess> {
  const options: SpawnOptions = { stdio: ['ignore', 'pipe', opts.stderr], ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.env ? { env: opts.env } : {}) };
  const worker = spawn(process.execPath, [cli, 'worker', ...args], options);
  await new Promise<void>((resolve, reject) => {
    worker.stdout!.on('data', (d: Buffer) => d.toString().includes('polling') && resolve());
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  return worker;
}

export const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
