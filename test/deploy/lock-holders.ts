// Plays a worker taking a deployment lock: `count` callers at once, each logging "wait <who> <i>"
// as it asks, then "enter …" and "exit …" while it holds the lock, holding it for `holdMs`.
//   node --import tsx test/deploy/lock-holders.ts <dir> <log> <who> <count> <holdMs>
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { withLock } from '../../src/activities/file-lock.js';

export async function holdInTurn(dir: string, log: string, who: string, count: number, holdMs = 0): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      appendFileSync(log, `wait ${who} ${i}\n`);
      return withLock(dir, async () => {
        appendFileSync(log, `enter ${who} ${i}\n`);
        // Yield to the event loop while holding it, as a real deploy step does (I/O, a child's start).
        await (holdMs ? sleep(holdMs) : new Promise((resolve) => setImmediate(resolve)));
        appendFileSync(log, `exit ${who} ${i}\n`);
      });
    }),
  );
}

if (process.argv[1]?.endsWith('lock-holders.ts')) {
  const [dir, log, who, count, holdMs] = process.argv.slice(2);
  if (!dir || !log || !who || !count) throw new Error('usage: lock-holders <dir> <log> <who> <count> [holdMs]');
  await holdInTurn(dir, log, who, Number(count), Number(holdMs ?? 0));
}
