// Signing a decision with the user's SSH key (`ssh-keygen -Y sign`, a key file or the agent), and
// the release facts a statement names, read from Temporal.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { canonicalStatement, SIGNATURE_NAMESPACE, type DecisionAction, type SignatureInput } from '../approvals/statement.js';
import { signaturesRequired } from '../approvals/signers.js';
import { parseRecordedSpec } from '../spec/schema.js';
import { ExitError, EXIT } from './errors.js';
import { startInput } from './release-status.js';

/** The key `--key` defaults to: SLIPWAY_SIGNING_KEY, else ~/.ssh/id_ed25519. */
export function defaultKeyPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLIPWAY_SIGNING_KEY || path.join(os.homedir(), '.ssh', 'id_ed25519');
}

/** What a signed statement names about a release: its id and first run id, and whether it asks for signatures. */
export async function releaseForSigning(client: Client, workflowId: string): Promise<{ workflowId: string; runId: string; requiresSignature: boolean }> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const runId = description.raw.workflowExecutionInfo?.firstRunId || description.runId;
  const spec = parseRecordedSpec((await startInput(client, workflowId, runId))?.spec);
  return { workflowId, runId, requiresSignature: spec.success ? signaturesRequired(spec.data) : false };
}

/**
 * Signs `decision` by `by` with `ssh-keygen -Y sign`. A key path ending in `.pub` signs through the
 * SSH agent (`-U`), holding the private key there; otherwise the private key file is used.
 */
export async function signDecision(release: { workflowId: string; runId: string }, decision: DecisionAction, by: string, reason: string, keyPath: string, now = new Date()): Promise<SignatureInput> {
  if (!existsSync(keyPath)) throw new ExitError(`--key ${keyPath}: no such key file; pass your ed25519 key (e.g. ~/.ssh/id_ed25519, or its .pub to sign with the SSH agent)`, EXIT.usage);
  const time = now.toISOString();
  const nonce = randomBytes(16).toString('base64url');
  const message = canonicalStatement({ workflowId: release.workflowId, runId: release.runId, decision, by, reason, time, nonce });
  const args = ['-Y', 'sign', '-n', SIGNATURE_NAMESPACE, '-f', keyPath, ...(keyPath.endsWith('.pub') ? ['-U'] : [])];
  const sshsig = await new Promise<string>((resolve, reject) => {
    const child = execFile('ssh-keygen', args, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new ExitError(`ssh-keygen could not sign with ${keyPath}: ${stderr.trim() || err.message}`, EXIT.usage));
      else resolve(stdout.trim());
    });
    child.stdin?.end(message);
  });
  return { workflowId: release.workflowId, runId: release.runId, time, nonce, sshsig };
}
