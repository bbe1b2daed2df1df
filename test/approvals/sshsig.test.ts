// The workflow's own SSHSIG check against signatures made by the real ssh-keygen.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllowedSigners } from '../../src/approvals/signers.js';
import { fingerprintOf, verifySshSignature } from '../../src/approvals/sshsig.js';
import { makeKey, sshSign } from './keys.js';

const alice = makeKey('alice');
const mallory = makeKey('mallory');
const NS = 'slipway-decision';

describe('SSH signatures (ssh-keygen -Y sign) verified in pure TypeScript', () => {
  it('accepts a good signature and names the key as ssh-keygen -l does', () => {
    const sig = sshSign(alice, 'hello\n', NS);
    expect(verifySshSignature(sig, 'hello\n', NS, [alice.publicKey])).toEqual({ ok: true, fingerprint: alice.fingerprint });
    expect(fingerprintOf(alice.publicKey)).toBe(alice.fingerprint);
    // ssh-keygen agrees that it is valid (the same signature, the same allowed key).
    const allowed = path.join(os.tmpdir(), `allowed-${process.pid}`);
    const sigFile = path.join(os.tmpdir(), `sig-${process.pid}`);
    writeFileSync(allowed, `alice ${alice.publicKey}\n`);
    writeFileSync(sigFile, sig);
    expect(execFileSync('ssh-keygen', ['-Y', 'verify', '-f', allowed, '-I', 'alice', '-n', NS, '-s', sigFile], { input: 'hello\n', encoding: 'utf8' })).toMatch(/Good "slipway-decision" signature for alice/);
  });

  it('refuses an altered message, another key, another namespace and garbage', () => {
    const sig = sshSign(alice, 'approve\n', NS);
    expect(verifySshSignature(sig, 'approve!\n', NS, [alice.publicKey])).toMatchObject({ ok: false, reason: expect.stringMatching(/does not match/) });
    const byMallory = sshSign(mallory, 'approve\n', NS);
    expect(verifySshSignature(byMallory, 'approve\n', NS, [alice.publicKey])).toMatchObject({ ok: false, fingerprint: mallory.fingerprint, reason: expect.stringMatching(/not a key of this signer/) });
    expect(verifySshSignature(sshSign(alice, 'approve\n', 'git'), 'approve\n', NS, [alice.publicKey])).toMatchObject({ ok: false, reason: expect.stringMatching(/namespace "git"/) });
    expect(verifySshSignature('-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----', 'x', NS, [alice.publicKey]).ok).toBe(false);
    expect(verifySshSignature('not a signature at all', 'x', NS, [alice.publicKey]).ok).toBe(false);
  });

  it('reads allowed_signers files, several principals per key', () => {
    const text = `# team\nalice,ops ${alice.publicKey}\nbob namespaces="slipway-decision" ${mallory.publicKey}\n`;
    const parsed = parseAllowedSigners(text);
    expect(Object.keys(parsed).sort()).toEqual(['alice', 'bob', 'ops']);
    expect(fingerprintOf(parsed.bob![0]!)).toBe(mallory.fingerprint);
    expect(() => parseAllowedSigners('alice ssh-rsa AAAAB3Nza')).toThrow(/line 1/);
  });
});
