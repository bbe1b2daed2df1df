// Scratch: bare undici dispatch loop vs autocannon vs the harness, same server, same body.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import autocannon from 'autocannon';
const server = spawn(process.execPath, ['--import', 'tsx', 'test/support/openai-server-main.ts', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const { port } = await new Promise<{ port: number }>((r) => createInterface({ input: server.stdout! }).once('line', (l) => r(JSON.parse(l))));
const body = JSON.stringify({ model: 'fake', messages: [{ role: 'user', content: 'What is 2 + 2?' }], temperature: 0 });
const secs = Number(process.argv[2] ?? 4);
for (const c of [1, 16]) {
  for (let round = 0; round < 2; round++) {
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: c, pipelining: 1 });
    let n = 0;
    const end = performance.now() + secs * 1000;
    const one = () => new Promise<void>((resolve) => {
      const chunks: Buffer[] = [];
      pool.dispatch({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body }, {
        onRequestStart() {}, onResponseStart() {}, onResponseData(_c, d) { chunks.push(d); }, onResponseEnd() { JSON.parse(Buffer.concat(chunks).toString()); resolve(); }, onResponseError() { resolve(); },
      });
    });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: c }, async () => { while (performance.now() < end) { await one(); n++; } }));
    const undiciRate = n / ((performance.now() - t0) / 1000);
    await pool.close();
    const a0 = performance.now();
    const r = await autocannon({ url: `http://127.0.0.1:${port}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: c, duration: secs });
    const acRate = r.requests.total / ((performance.now() - a0) / 1000);
    console.log(`c=${c} bare-undici ${undiciRate.toFixed(0)} autocannon ${acRate.toFixed(0)} ratio ${(undiciRate / acRate).toFixed(2)}`);
  }
}
server.kill();
