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

interface ProcessCpu {
  pid: number;
  /** The command name (`/proc/<pid>/comm`, at most 15 characters). */
  command: string;
  /** Its own CPU seconds so far. */
  own: number;
  /** CPU seconds of its children that exited and were reaped. */
  reaped: number;
}

/** A process and all its live descendants, each with its CPU time so far. */
function processTree(rootPid: number): ProcessCpu[] {
  const all = new Map<number, ProcessCpu & { ppid: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The fixed fields start after the last ')' (the command name may hold spaces and parentheses):
      // state ppid ... utime stime cutime cstime are the 1st, 2nd and 12th-15th of them.
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      const command = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
      const ticks = (i: number) => Number(f[i]) / CLOCK_TICKS_PER_S;
      all.set(Number(entry), { pid: Number(entry), ppid: Number(f[1]), command, own: ticks(11) + ticks(12), reaped: ticks(13) + ticks(14) });
    } catch {
      // Gone while we looked.
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, p] of all) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid)!.push(pid);
  }
  const tree: ProcessCpu[] = [];
  for (const queue = [rootPid]; queue.length > 0; ) {
    const p = all.get(queue.pop()!);
    if (!p) continue;
    tree.push(p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return tree;
}

/** One look at the CPU seconds a process tree has used so far (all three from the same instant). */
export interface TreeCpu {
  /** The process and all its descendants: the live ones, and those already exited and reaped as their parent's children's time (so each is counted once). */
  tree: number;
  /** The process itself, without its children. */
  own: number;
  /** Its live descendants named `command` (a long-lived child such as Traefik); 0 when none was asked for. */
  named: number;
}

export function cpuSeconds(rootPid: number, command?: string): TreeCpu {
  const processes = processTree(rootPid);
  return {
    tree: processes.reduce((sum, p) => sum + p.own + p.reaped, 0),
    own: processes[0]?.pid === rootPid ? processes[0].own : 0,
    named: processes.reduce((sum, p) => sum + (p.pid !== rootPid && p.command === command ? p.own : 0), 0),
  };
}

/** `getconf CLK_TCK`: 100 on Linux. */
const CLOCK_TICKS_PER_S = 100;
