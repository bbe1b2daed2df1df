// A real single-node Slurm cluster for tests and `slipway dev --slurm`: munged on its own socket,
// slurmctld and slurmd from Debian's slurm-wlm, all configured by a slurm.conf written for this host
// into one state folder (free ports, no cgroups, no accounting database). Jobs run as this user.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePorts } from '../system/ports.js';
import { ManagedProcess } from './process.js';

const run = promisify(execFile);

export interface SlurmClusterOptions {
  /** Where the cluster keeps its config, munge key, controller state, spool and logs. */
  stateDir: string;
  /** The one partition's name (default `debug`). */
  partition?: string;
  startupTimeoutMs?: number;
}

export interface RunningSlurm {
  /** The slurm.conf to point clients and workers at (`SLURM_CONF`). */
  conf: string;
  partition: string;
  nodeName: string;
  /** What the node offers (from `slurmd -C`): no GPUs. */
  cpus: number;
  memoryMb: number;
  /** munged, slurmctld and slurmd. */
  processes: ManagedProcess[];
  /** munged's socket folder (in the system temp dir), removed at stop. */
  mungeSocketDir: string;
  /** Cancels every job, stops the daemons, and ends whatever a job left behind. */
  stop(): Promise<void>;
}

/** Raised when the Slurm or munge binaries are missing; says how to install them. */
export class SlurmNotInstalled extends Error {
  readonly code = 'SLIPWAY_SLURM_NOT_INSTALLED';
  constructor(tool: string) {
    super(`${tool} not found: install Debian's slurm-wlm and munge (\`sudo bash scripts/setup-system.sh\`, or apt-get install slurm-wlm munge)`);
  }
}

function findDaemon(name: string): string {
  for (const dir of ['/usr/sbin', '/usr/local/sbin', ...(process.env.PATH ?? '').split(path.delimiter)]) {
    const file = path.join(dir, name);
    if (dir && existsSync(file)) return file;
  }
  throw new SlurmNotInstalled(name);
}

/** The node line slurmd itself reports for this host (CPUs, sockets, cores, RealMemory). */
async function nodeHardware(slurmd: string): Promise<{ line: string; cpus: number; memoryMb: number }> {
  // `slurmd -C` needs no config; the DNS lookup it tries first fails harmlessly on stderr.
  const { stdout } = await run(slurmd, ['-C'], { env: { ...process.env, SLURM_CONF: '/dev/null' } });
  const line = stdout.split('\n').find((l) => l.startsWith('NodeName='));
  if (!line) throw new Error(`slurmd -C printed no NodeName line:\n${stdout}`);
  const num = (key: string) => Number(new RegExp(`\\b${key}=(\\d+)`).exec(line)?.[1] ?? NaN);
  return { line: line.replace(/^NodeName=\S+\s*/, '').replace(/\s*UpTime=\S+/, ''), cpus: num('CPUs'), memoryMb: num('RealMemory') };
}

/** Starts munged, slurmctld and slurmd, and waits until the node is idle. */
export async function startSlurmCluster(opts: SlurmClusterOptions): Promise<RunningSlurm> {
  const [munged, slurmctld, slurmd] = ['munged', 'slurmctld', 'slurmd'].map(findDaemon) as [string, string, string];
  const dir = path.resolve(opts.stateDir);
  const partition = opts.partition ?? 'debug';
  const nodeName = os.hostname().split('.')[0]!;
  const logs = path.join(dir, 'logs');
  const mungeDir = path.join(dir, 'munge');
  for (const d of [dir, logs, mungeDir, path.join(dir, 'state'), path.join(dir, 'spool')]) mkdirSync(d, { recursive: true });
  const key = path.join(mungeDir, 'munge.key');
  if (!existsSync(key)) writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  // munged wants every folder above its socket traversable by all, which a state dir (a 0700 temp
  // folder, a home directory) need not be: the socket gets its own folder in the system temp dir.
  const socketDir = path.join(os.tmpdir(), `slipway-munge-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`);
  mkdirSync(socketDir, { recursive: true, mode: 0o755 });
  chmodSync(socketDir, 0o755);
  const socket = path.join(socketDir, 'munge.socket');

  const hw = await nodeHardware(slurmd);
  const conf = path.join(dir, 'slurm.conf');
  const [ctldPort, slurmdPort] = await freePorts(2);
  writeFileSync(conf, slurmConf({ dir, socket, nodeName, partition, hw: hw.line, ctldPort: ctldPort!, slurmdPort: slurmdPort! }));
  const env = { ...process.env, SLURM_CONF: conf };

  const processes: ManagedProcess[] = [];
  const cluster: RunningSlurm = { conf, partition, nodeName, cpus: hw.cpus, memoryMb: hw.memoryMb, processes, mungeSocketDir: socketDir, stop: () => stopCluster(cluster) };
  try {
    const munge = ManagedProcess.start('munged', munged, ['-F', `--socket=${socket}`, `--key-file=${key}`, `--pid-file=${path.join(mungeDir, 'munged.pid')}`, `--seed-file=${path.join(mungeDir, 'munged.seed')}`], {
      logFile: path.join(logs, 'munged.log'),
    });
    processes.push(munge);
    const timeout = opts.startupTimeoutMs ?? 60_000;
    await munge.waitUntil(async () => existsSync(socket), timeout);
    const ctld = ManagedProcess.start('slurmctld', slurmctld, ['-D'], { logFile: path.join(logs, 'slurmctld.out'), env });
    processes.push(ctld);
    await ctld.waitUntil(async () => (await run('scontrol', ['ping'], { env })).stdout.includes('UP'), timeout);
    const node = ManagedProcess.start('slurmd', slurmd, ['-D'], { logFile: path.join(logs, 'slurmd.out'), env });
    processes.push(node);
    // Back from an earlier run, the node may still be marked down: resume it (an error just means it was not).
    await run('scontrol', ['update', `NodeName=${nodeName}`, 'State=RESUME'], { env }).catch(() => undefined);
    await node.waitUntil(async () => /^idle|^mix|^alloc/.test((await run('sinfo', ['-h', '-N', '-n', nodeName, '-o', '%t'], { env })).stdout.trim()), timeout);
    return cluster;
  } catch (err) {
    await stopCluster(cluster);
    throw err;
  }
}

function slurmConf(c: { dir: string; socket: string; nodeName: string; partition: string; hw: string; ctldPort: number; slurmdPort: number }): string {
  const at = (...p: string[]) => path.join(c.dir, ...p);
  return `# Written by Slipway's Slurm harness (src/stack/slurm.ts) for this host; rewritten at every start.
ClusterName=slipway
SlurmctldHost=${c.nodeName}(127.0.0.1)
SlurmctldPort=${c.ctldPort}
SlurmdPort=${c.slurmdPort}
SlurmUser=${os.userInfo().username}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${c.socket}
StateSaveLocation=${at('state')}
SlurmdSpoolDir=${at('spool')}
SlurmctldPidFile=${at('slurmctld.pid')}
SlurmdPidFile=${at('slurmd.pid')}
SlurmctldLogFile=${at('logs', 'slurmctld.log')}
SlurmdLogFile=${at('logs', 'slurmd.log')}
MailProg=/bin/true
# No cgroups here: processes are tracked by parentage, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Finished jobs stay in the controller (scontrol shows their state and exit code) for a day,
# and each one's end is also kept in a file.
MinJobAge=86400
JobCompType=jobcomp/filetxt
JobCompLoc=${at('logs', 'jobcomp.txt')}
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
# A request no node or partition can ever satisfy is refused at submit, not left pending forever.
EnforcePartLimits=ALL
GresTypes=gpu
KillWait=2
ReturnToService=2
MpiDefault=none
NodeName=${c.nodeName} NodeAddr=127.0.0.1 NodeHostname=${c.nodeName} ${c.hw} State=UNKNOWN
PartitionName=${c.partition} Nodes=${c.nodeName} Default=YES MaxTime=INFINITE State=UP
`;
}

async function stopCluster(cluster: RunningSlurm): Promise<void> {
  const env = { ...process.env, SLURM_CONF: cluster.conf };
  const ctld = cluster.processes.find((p) => p.name === 'slurmctld');
  if (ctld?.running) {
    // Cancel every job first, so slurmd ends their processes itself.
    const ids = (await run('squeue', ['-h', '-o', '%i'], { env }).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean);
    if (ids.length) await run('scancel', ids, { env }).catch(() => undefined);
    for (let i = 0; i < 120; i++) {
      const left = await run('squeue', ['-h', '-o', '%i'], { env }).then((r) => r.stdout.trim(), () => '');
      if (!left) break;
      await sleep(250);
    }
  }
  for (const name of ['slurmd', 'slurmctld', 'munged']) await cluster.processes.find((p) => p.name === name)?.stop(5_000);
  killLeftoverSteps(cluster.conf);
  rmSync(cluster.mungeSocketDir, { recursive: true, force: true });
}

/** Session id of a process, or null when it is gone. */
function sessionOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
  } catch {
    return null;
  }
}

/** SIGKILLs this cluster's slurmstepd processes (they carry its SLURM_CONF) and their sessions' jobs. */
function killLeftoverSteps(conf: string): void {
  const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number);
  const sessions = new Set<number>();
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('slurmstepd')) continue;
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`SLURM_CONF=${conf}`)) continue;
      const sid = sessionOf(pid);
      if (sid !== null) sessions.add(sid);
    } catch {
      // Gone, or not ours to read.
    }
  }
  if (!sessions.size) return;
  for (const pid of pids) {
    const sid = sessionOf(pid);
    if (sid === null || !sessions.has(sid) || pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}
