// SSH signatures (`ssh-keygen -Y sign`, the SSHSIG format) checked in pure TypeScript, so that the
// workflow itself verifies a decision, deterministically, inside its sandbox (no node:crypto there).
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';

/** An ed25519 public key as written in authorized_keys / allowed_signers: `ssh-ed25519 AAAA... [comment]`. */
export interface SshPublicKey {
  /** The key's wire blob (string "ssh-ed25519", string key). */
  blob: Uint8Array;
  /** The 32-byte ed25519 key. */
  key: Uint8Array;
  /** `SHA256:...`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function fromBase64(text: string): Uint8Array {
  const clean = text.replace(/[\s=]/g, '');
  if (!/^[A-Za-z0-9+/]*$/.test(clean)) throw new Error('not base64');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of clean) {
    value = (value << 6) | B64.indexOf(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + (i + 1 < bytes.length ? B64[(n >> 6) & 63]! : '=') + (i + 2 < bytes.length ? B64[n & 63]! : '=');
  }
  return out;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const latin = (b: Uint8Array) => String.fromCharCode(...b);

/** Reads SSH wire-format fields (uint32 length + bytes) one after another. */
class Reader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}
  raw(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw new Error('truncated');
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  uint32(): number {
    const b = this.raw(4);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }
  string(): Uint8Array {
    return this.raw(this.uint32());
  }
  done(): boolean {
    return this.at === this.bytes.length;
  }
}

function sshString(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function keyFromBlob(blob: Uint8Array): SshPublicKey {
  const r = new Reader(blob);
  const type = latin(r.string());
  if (type !== 'ssh-ed25519') throw new Error(`${type} keys are not supported: use an ssh-ed25519 key`);
  const key = r.string();
  if (key.length !== 32 || !r.done()) throw new Error('malformed ssh-ed25519 key');
  return { blob, key, fingerprint: `SHA256:${toBase64(sha256(blob)).replace(/=+$/, '')}` };
}

/** Parses `ssh-ed25519 AAAA... [comment]`; throws with what is wrong. */
export function parsePublicKey(line: string): SshPublicKey {
  const [type, data] = line.trim().split(/\s+/);
  if (type !== 'ssh-ed25519' || !data) throw new Error(`expected "ssh-ed25519 AAAA..." (an ed25519 public key, e.g. ~/.ssh/id_ed25519.pub), got "${line.slice(0, 40)}"`);
  return keyFromBlob(fromBase64(data));
}

/** The `SHA256:...` fingerprint of a public key line. */
export function fingerprintOf(line: string): string {
  return parsePublicKey(line).fingerprint;
}

export interface SignatureCheck {
  ok: boolean;
  /** Why it failed, for the audit trail. */
  reason?: string;
  /** Of the key that made the signature (also when it is not one of the allowed keys). */
  fingerprint?: string;
}

/**
 * Verifies an armored SSHSIG over `message` made in `namespace` by one of `allowed` keys
 * (`ssh-ed25519 AAAA...` lines). Never throws: a malformed signature is a failed check.
 */
export function verifySshSignature(armored: string, message: string, namespace: string, allowed: string[]): SignatureCheck {
  let r: Reader;
  try {
    const body = armored.replace(/-----(BEGIN|END) SSH SIGNATURE-----/g, '');
    r = new Reader(fromBase64(body));
  } catch {
    return { ok: false, reason: 'the signature is not an armored SSH signature (-----BEGIN SSH SIGNATURE-----)' };
  }
  try {
    if (latin(r.raw(6)) !== 'SSHSIG') return { ok: false, reason: 'the signature is not an SSHSIG signature' };
    if (r.uint32() !== 1) return { ok: false, reason: 'unsupported SSHSIG version' };
    const signer = keyFromBlob(r.string());
    const ns = latin(r.string());
    const reserved = r.string();
    const hashAlg = latin(r.string());
    const sigBlob = new Reader(r.string());
    if (!r.done()) return { ok: false, reason: 'trailing bytes after the signature' };
    if (ns !== namespace) return { ok: false, reason: `signed in namespace "${ns}", expected "${namespace}"`, fingerprint: signer.fingerprint };
    if (hashAlg !== 'sha512') return { ok: false, reason: `hash ${hashAlg} not supported (ssh-keygen uses sha512)`, fingerprint: signer.fingerprint };
    if (latin(sigBlob.string()) !== 'ssh-ed25519') return { ok: false, reason: 'not an ed25519 signature', fingerprint: signer.fingerprint };
    const sig = sigBlob.string();
    const keys = allowed.map((k) => parsePublicKey(k));
    if (!keys.some((k) => k.fingerprint === signer.fingerprint)) return { ok: false, reason: `signed with key ${signer.fingerprint}, which is not a key of this signer`, fingerprint: signer.fingerprint };
    const signed = concat(utf8('SSHSIG'), sshString(utf8(namespace)), sshString(reserved), sshString(utf8(hashAlg)), sshString(sha512(utf8(message))));
    let valid = false;
    try {
      valid = sig.length === 64 && ed25519.verify(sig, signed, signer.key);
    } catch {
      valid = false;
    }
    return valid ? { ok: true, fingerprint: signer.fingerprint } : { ok: false, reason: `the signature does not match the statement (forged or altered)`, fingerprint: signer.fingerprint };
  } catch (err) {
    return { ok: false, reason: `malformed SSH signature: ${(err as Error).message}` };
  }
}
