// The encryption keys of history payloads, by id: from SLIPWAY_CODEC_KEYS_FILE (a JSON file) or
// SLIPWAY_CODEC_KEYS (the same JSON inline). New payloads use the current key; old ids still decrypt.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const KeysSchema = z
  .object({
    /** The id new payloads are encrypted with (default: the last key listed). */
    current: z.string().min(1).optional(),
    keys: z
      .array(
        z
          .object({
            id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected 1 to 64 letters, digits, ".", "_" or "-"'),
            /** 32 random bytes, base64 (`openssl rand -base64 32`). */
            key: z.string().refine((k) => Buffer.from(k, 'base64').length === 32, 'expected 32 bytes in base64 (openssl rand -base64 32)'),
          })
          .strict(),
      )
      .min(1, 'list at least one key'),
  })
  .strict()
  .refine((k) => !k.current || k.keys.some((e) => e.id === k.current), { message: 'current: no key has this id', path: ['current'] });

export interface CodecKeys {
  currentId: string;
  byId: Map<string, Buffer>;
}

/** A bad key file or variable: the message names the place and the rule. */
export class CodecConfigError extends Error {
  readonly code = 'SLIPWAY_CODEC_CONFIG';
}

export function parseCodecKeys(text: string, where: string): CodecKeys {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CodecConfigError(`${where}: not valid JSON (${(err as Error).message}); expected {"keys": [{"id": "k1", "key": "<base64 of 32 bytes>"}]}`);
  }
  const parsed = KeysSchema.safeParse(raw);
  if (!parsed.success) throw new CodecConfigError(`${where}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);
  const byId = new Map(parsed.data.keys.map((k) => [k.id, Buffer.from(k.key, 'base64')]));
  return { currentId: parsed.data.current ?? (parsed.data.keys.at(-1) as { id: string }).id, byId };
}

/** The keys the environment configures, or undefined when payloads are not encrypted. */
export function codecKeysFromEnv(env: NodeJS.ProcessEnv = process.env): CodecKeys | undefined {
  const file = env.SLIPWAY_CODEC_KEYS_FILE?.trim();
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CodecConfigError(`SLIPWAY_CODEC_KEYS_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    return parseCodecKeys(text, `SLIPWAY_CODEC_KEYS_FILE (${file})`);
  }
  const inline = env.SLIPWAY_CODEC_KEYS?.trim();
  return inline ? parseCodecKeys(inline, 'SLIPWAY_CODEC_KEYS') : undefined;
}
