// waitReady against real processes: a server that logs and then listens, one that dies during
// start-up, one that never answers. Its probing backs off from 5 ms and wakes on the server's log
// writes and exit; what is asserted here is the outcome it reports for each.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnDetached, stopGroup, waitReady } from '../../src/activities/deploy/processes.js';
import { freePort } from '../../src/system/ports.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-wait-ready-'));
const started: number[] = [];

/** Runs `script` (Node) as a detached server process with its log in `dir`. */
function server(name: string, script: string) {
  const logFile = path.join(dir, `${name}.log`);
  const child = spawnDetached([process.execPath, '-e', script], { cwd: dir, env: process.env, logFile, tag: `test:${name}` });
  started.push(child.pid!);
  return { child, pid: child.pid!, logFile };
}

afterAll(async () => {
  for (const pid of started) await stopGroup(pid, 1_000);
  rmSync(dir, { recursive: true, force: true });
});

describe('waitReady', () => {
  it('is ready once a server that starts slowly answers 2xx', async () => {
    const port = await freePort();
    const s = server('slow', `setTimeout(() => require('node:http').createServer((q, r) => r.end('ok')).listen(${port}, '127.0.0.1', () => console.log('listening')), 300);`);
    expect(await waitReady(`http://127.0.0.1:${port}/health`, s.pid, 30_000, { logFile: s.logFile, child: s.child })).toBe('ready');
  });

  it('says exited for a server that dies during start-up, whether spawned here or found by pid', async () => {
    const port = await freePort();
    const own = server('dies', `console.log('loading'); setTimeout(() => process.exit(1), 200);`);
    expect(await waitReady(`http://127.0.0.1:${port}/health`, own.pid, 600_000, { logFile: own.logFile, child: own.child })).toBe('exited');
    const found = server('dies-found', `setTimeout(() => process.exit(1), 200);`);
    expect(await waitReady(`http://127.0.0.1:${port}/health`, found.pid, 600_000)).toBe('exited');
  });

  it('times out on a server that never answers, and leaves it running for the caller to stop', async () => {
    const port = await freePort();
    const s = server('mute', `setInterval(() => console.log('still loading'), 20);`);
    expect(await waitReady(`http://127.0.0.1:${port}/health`, s.pid, 300, { logFile: s.logFile, child: s.child })).toBe('timeout');
    expect(s.child.exitCode).toBeNull();
  });
});
