// The deployment lock (src/activities/file-lock.ts): callers in one worker are served in the order
// they came, one at a time; two worker processes on the same folder still take turns; a lock left
// by a dead process is taken over.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { withLock } from '../../src/activities/file-lock.js';
import { repoRoot } from './helpers.js';
import { holdInTurn } from './lock-holders.js';

const run = promisify(execFile);
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'slipway-lock-'));

/** The holders in the order they held the lock; fails if two ever held it at once. */
function holders(lines: string[]): string[] {
  const served: string[] = [];
  let inside: string | null = null;
  for (const line of lines) {
    const [event, ...rest] = line.split(' ');
    const who = rest.join(' ');
    if (event === 'enter') {
      expect(inside, `${who} entered while ${inside} held the lock`).toBeNull();
      inside = who;
      served.push(who);
    } else if (event === 'exit') {
      expect(inside).toBe(who);
      inside = null;
    }
  }
  expect(inside).toBeNull();
  return served;
}

const lines = (log: string) => readFileSync(log, 'utf8').trim().split('\n');
const inOrder = (who: string, n: number) => Array.from({ length: n }, (_, i) => `${who} ${i}`);

describe('withLock', () => {
  it('serves many waiters in one process one at a time, in the order they came', async () => {
    const dir = tmp();
    const log = path.join(dir, 'log');
    writeFileSync(log, '');
    await holdInTurn(dir, log, 'a', 300);
    expect(holders(lines(log))).toEqual(inOrder('a', 300));
  });

  it('a failing holder lets the next one in', async () => {
    const dir = tmp();
    const order: string[] = [];
    const failing = withLock(dir, async () => {
      order.push('first');
      throw new Error('deploy step failed');
    });
    const next = withLock(dir, async () => order.push('second'));
    await expect(failing).rejects.toThrow('deploy step failed');
    await next;
    expect(order).toEqual(['first', 'second']);
  });

  it('keeps two worker processes apart on the same folder, each serving its own waiters in order', async () => {
    const dir = tmp();
    const log = path.join(dir, 'log');
    writeFileSync(log, '');
    const script = path.join(repoRoot, 'test/deploy/lock-holders.ts');
    const other = run(process.execPath, ['--import', 'tsx', script, dir, log, 'b', '100', '5'], { cwd: repoRoot });
    // Ours ask once the other process has asked, so that they contend for the lock.
    while (!readFileSync(log, 'utf8').includes('wait b')) await sleep(5);
    await holdInTurn(dir, log, 'a', 100, 5);
    await other;
    const all = lines(log);
    const served = holders(all);
    expect(served).toHaveLength(200);
    expect(served.filter((s) => s.startsWith('a '))).toEqual(inOrder('a', 100));
    expect(served.filter((s) => s.startsWith('b '))).toEqual(inOrder('b', 100));
    // The scenario did happen: our callers waited while the other process still had holders to serve.
    expect(all.indexOf('wait a 0')).toBeLessThan(all.lastIndexOf('exit b 99'));
  });

  it('takes over a lock whose holder died', async () => {
    const dir = tmp();
    // A pid that ran and is gone: a child that has exited.
    const { stdout } = await run(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(path.join(dir, 'lock'), `${stdout} 1`);
    await expect(withLock(dir, async () => 'taken')).resolves.toBe('taken');
  });
});
