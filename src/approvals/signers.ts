// Who may sign for whom: public keys listed in the spec (`signers`, or the allowed_signers-style
// file `signers_file` that the CLI reads into it before the release starts). Pure.
import type { PipelineSpec } from '../spec/schema.js';

/** The public key lines listed for `who` (none: that person cannot sign). */
export function keysOf(spec: PipelineSpec, who: string): string[] {
  // Specs recorded before signers existed (and read back unparsed) have none.
  const keys = spec.signers?.[who];
  if (keys === undefined) return [];
  return typeof keys === 'string' ? [keys] : keys;
}

/** Decisions must be signed unless the spec says otherwise; by default, when any key is listed. */
export function signaturesRequired(spec: PipelineSpec): boolean {
  return spec.approval?.require_signature ?? (Object.keys(spec.signers ?? {}).length > 0 || spec.signers_file !== undefined);
}

/**
 * Reads allowed_signers text (git's format: `principals [options] ssh-ed25519 AAAA... [comment]`,
 * principals comma-separated, `#` comments) into name → key lines. Throws naming the line.
 */
export function parseAllowedSigners(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const at = fields.indexOf('ssh-ed25519');
    if (at < 1 || !fields[at + 1]) throw new Error(`line ${i + 1}: expected "name[,name...] ssh-ed25519 AAAA..." (ed25519 keys only)`);
    for (const name of (fields[0] as string).split(',').filter(Boolean)) (out[name] ??= []).push(`ssh-ed25519 ${fields[at + 1]}`);
  });
  return out;
}
