import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temporary directory for one test file. */
export const tempDir = (prefix = 'slipway-quality-') => mkdtempSync(path.join(os.tmpdir(), prefix));

/** Writes rows (objects, or raw strings for malformed lines) as a JSONL file and returns its path. */
export function writeDataset(dir: string, name: string, rows: Array<object | string>): string {
  const file = path.join(dir, name);
  writeFileSync(file, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
  return file;
}

/** Chat requests the fake server received, all statuses. */
export const totalRequests = (counts: Map<number, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
