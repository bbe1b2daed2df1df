// A `slipway worker` process for the benches: started from a built CLI, returned once it polls,
// and its resident memory as /proc reports it.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * CPU seconds a process and all its descendants have used so far: the live ones from /proc, and
 * those already exited and reaped as their parent's children's time (so each is counted once).
 */
export function treeCpuSeconds(rootPid: number): number {
  const stats = new Map<number, { ppid: number; own: number; reaped: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The fixed fields start after the last ')' (the command name may hold spaces and parentheses):
      // state ppid ... utime stime cutime cstime are the 1st, 2nd and 12th-15th of them.
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) });
    } catch {
      // Gone while we looked.
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) {
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid)!.push(pid);
  }
  let ticks = 0;
  for (const queue = [rootPid]; queue.length > 0; ) {
    const pid = queue.pop()!;
    const s = stats.get(pid);
    if (!s) continue;
    ticks += s.own + s.reaped;
    queue.push(...(children.get(pid) ?? []));
  }
  return ticks / CLOCK_TICKS_PER_S;
}

/** CPU seconds one process (not its children) has used so far. */
export function ownCpuSeconds(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_S;
}

/** `getconf CLK_TCK`: 100 on Linux. */
const CLOCK_TICKS_PER_S = 100;
