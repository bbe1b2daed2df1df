// A PayloadCodec that encrypts every payload with AES-256-GCM: the Temporal server (and anyone
// reading its histories) holds only ciphertext; workers, the CLI and the codec server decrypt.
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { codecKeysFromEnv, CodecConfigError, type CodecKeys } from './keys.js';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const PayloadProto = proto.temporal.api.common.v1.Payload;
const text = (s: string) => new TextEncoder().encode(s);

export class AesGcmCodec implements PayloadCodec {
  constructor(private readonly keys: CodecKeys) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.byId.get(this.keys.currentId) as Buffer;
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const sealed = Buffer.concat([iv, cipher.update(PayloadProto.encode(p).finish()), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: text(ENCRYPTED_ENCODING), [KEY_ID]: text(this.keys.currentId) }, data: sealed };
    });
  }

  /** Payloads written before encryption was turned on pass through as they are. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (new TextDecoder().decode(p.metadata?.encoding ?? new Uint8Array()) !== ENCRYPTED_ENCODING) return p;
      const id = new TextDecoder().decode(p.metadata?.[KEY_ID] ?? new Uint8Array());
      const key = this.keys.byId.get(id);
      if (!key) throw new CodecConfigError(`a payload is encrypted with key "${id}", which is not among the configured keys (${[...this.keys.byId.keys()].join(', ')}): keep old keys listed after a rotation`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return PayloadProto.decode(plain) as Payload;
    });
  }
}

/** The data converter for workers, clients and schedules: encrypting when keys are configured, else the SDK's default. */
export function slipwayDataConverter(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const keys = codecKeysFromEnv(env);
  return keys ? { payloadCodecs: [new AesGcmCodec(keys)] } : undefined;
}
