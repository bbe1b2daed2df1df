// The spec's signing fields: bad keys, a missing signers file and an impossible quorum are refused
// before anything starts, each naming the field; a signers file's keys travel in the spec.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signaturesRequired } from '../../src/approvals/signers.js';
import { loadSpec, SpecError } from '../../src/client/spec-file.js';
import { testSpec } from '../support/pipeline-fixtures.js';
import { makeKey } from './keys.js';

const alice = makeKey('alice');
const bob = makeKey('bob');

function specFile(extra: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-signspec-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const base = JSON.parse(JSON.stringify(testSpec())) as Record<string, unknown>;
  const file = path.join(dir, 'pipeline.json');
  writeFileSync(file, JSON.stringify({ ...base, ...extra }));
  return file;
}

const problems = (file: string) => {
  try {
    loadSpec(file);
  } catch (err) {
    if (err instanceof SpecError) return err.problems;
    throw err;
  }
  return [];
};

describe('signing fields of the spec', () => {
  it('reads signers_file into signers, keeping inline keys, and then requires signatures', () => {
    const file = specFile({ approval: { approvers: ['alice', 'bob'], min_approvals: 2 }, signers: { alice: alice.publicKey }, signers_file: 'allowed_signers' }, { allowed_signers: `bob ${bob.publicKey} bob@laptop\nalice ${bob.publicKey}\n` });
    const { spec } = loadSpec(file);
    const bare = (k: string) => k.split(' ').slice(0, 2).join(' ');
    expect(spec.signers).toEqual({ alice: [alice.publicKey, bare(bob.publicKey)], bob: [bare(bob.publicKey)] });
    expect(signaturesRequired(spec)).toBe(true);
    expect(signaturesRequired(testSpec({ approval: { approvers: ['a'] } }))).toBe(false);
  });

  it('names what is wrong: a key that is not ed25519, a missing file, a quorum larger than the approvers', () => {
    expect(problems(specFile({ signers: { alice: 'ssh-rsa AAAAB3NzaC1yc2E' } }))).toEqual([expect.stringMatching(/^signers\.alice: .*ed25519 public key/)]);
    expect(problems(specFile({ signers_file: 'nope' }))).toEqual([expect.stringMatching(/^signers_file: cannot read .*nope: ENOENT/)]);
    expect(problems(specFile({ signers_file: 'bad' }, { bad: 'alice ssh-rsa AAAA\n' }))).toEqual([expect.stringMatching(/^signers_file: .*line 1: expected/)]);
    expect(problems(specFile({ approval: { approvers: ['alice', 'alice'], min_approvals: 2 } }))).toEqual([expect.stringMatching(/^approval\.min_approvals: .*more than the number of distinct approvers/)]);
  });
});
