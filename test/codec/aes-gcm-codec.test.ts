// The payload codec on its own: round trip, rotation by key id, tampering, and key-file errors.
import { defaultPayloadConverter } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AesGcmCodec } from '../../src/codec/aes-gcm-codec.js';
import { parseCodecKeys } from '../../src/codec/keys.js';

const key = () => randomBytes(32).toString('base64');
const [a, b] = [key(), key()];
const v1 = parseCodecKeys(JSON.stringify({ keys: [{ id: 'a', key: a }] }), 'test');
const v2 = parseCodecKeys(JSON.stringify({ keys: [{ id: 'a', key: a }, { id: 'b', key: b }] }), 'test');

describe('AesGcmCodec', () => {
  it('round-trips, encrypts with the current key, and decrypts older ids after a rotation', async () => {
    const plain = defaultPayloadConverter.toPayload({ prompt: 'secret prompt' });
    const [sealed] = await new AesGcmCodec(v1).encode([plain]);
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('secret prompt');
    expect(new TextDecoder().decode(sealed!.metadata!['encryption-key-id'])).toBe('a');
    const [opened] = await new AesGcmCodec(v2).decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ prompt: 'secret prompt' });
    const [newer] = await new AesGcmCodec(v2).encode([plain]);
    expect(new TextDecoder().decode(newer!.metadata!['encryption-key-id'])).toBe('b');
    // Unencrypted payloads (written before encryption was on) pass through.
    expect(await new AesGcmCodec(v2).decode([plain])).toEqual([plain]);
  });

  it('refuses a tampered payload and names a missing key id', async () => {
    const [sealed] = await new AesGcmCodec(v1).encode([defaultPayloadConverter.toPayload('x')]);
    const tampered = { ...sealed!, data: Uint8Array.from(sealed!.data!, (byte, i) => (i === 20 ? byte ^ 1 : byte)) };
    await expect(new AesGcmCodec(v1).decode([tampered])).rejects.toThrow(/authenticate/);
    const onlyB = parseCodecKeys(JSON.stringify({ keys: [{ id: 'b', key: b }] }), 'test');
    await expect(new AesGcmCodec(onlyB).decode([sealed!])).rejects.toThrow(/key "a", which is not among the configured keys \(b\)/);
  });

  it('explains a bad key file', () => {
    expect(() => parseCodecKeys('{', 'SLIPWAY_CODEC_KEYS_FILE (k.json)')).toThrow(/SLIPWAY_CODEC_KEYS_FILE \(k.json\): not valid JSON/);
    expect(() => parseCodecKeys(JSON.stringify({ keys: [{ id: 'a', key: 'c2hvcnQ=' }] }), 'f')).toThrow(/keys.0.key: expected 32 bytes/);
    expect(() => parseCodecKeys(JSON.stringify({ current: 'z', keys: [{ id: 'a', key: a }] }), 'f')).toThrow(/current: no key has this id/);
  });
});
