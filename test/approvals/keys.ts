// Real SSH keys for tests: made by ssh-keygen in a temp dir, no passphrase.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestKey {
  name: string;
  /** The private key file. */
  file: string;
  /** `ssh-ed25519 AAAA...` */
  publicKey: string;
  /** As `ssh-keygen -l` prints it. */
  fingerprint: string;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-keys-'));

export function makeKey(name: string): TestKey {
  const file = path.join(dir, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', file]);
  const publicKey = readFileSync(`${file}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(/\s+/)[1] ?? '';
  return { name, file, publicKey, fingerprint };
}

/** Signs `message` as `ssh-keygen -Y sign` does for the CLI. */
export function sshSign(key: TestKey, message: string, namespace: string): string {
  return execFileSync('ssh-keygen', ['-Y', 'sign', '-n', namespace, '-f', key.file], { input: message, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] }).trim();
}

/** An allowed_signers file naming each key's owner. */
export function allowedSignersFile(keys: TestKey[]): string {
  const file = path.join(dir, `allowed_signers-${Math.random().toString(36).slice(2, 8)}`);
  writeFileSync(file, `# test signers\n${keys.map((k) => `${k.name} ${k.publicKey}`).join('\n')}\n`);
  return file;
}
