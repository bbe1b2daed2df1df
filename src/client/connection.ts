import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { slipwayDataConverter } from '../codec/aes-gcm-codec.js';
import { TemporalUnreachableError } from '../errors.js';

export { TemporalUnreachableError };

export interface ConnectOptions {
  /** Overrides TEMPORAL_ADDRESS / the envconfig profile. */
  address?: string;
  namespace?: string;
}


export interface ResolvedConnection {
  address: string;
  namespace: string;
  /** TLS, API key and gRPC metadata of the envconfig profile (Temporal Cloud, mTLS clusters). */
  tls?: NativeConnectionOptions['tls'];
  apiKey?: string;
  metadata?: NativeConnectionOptions['metadata'];
}

/** Settings come from @temporalio/envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, profiles), then flags. */
export function resolveConnection(opts: ConnectOptions = {}): ResolvedConnection {
  const config = loadClientConnectConfig();
  const { tls, apiKey, metadata } = config.connectionOptions;
  return {
    address: opts.address ?? config.connectionOptions.address ?? '127.0.0.1:7233',
    namespace: opts.namespace ?? config.namespace ?? 'default',
    tls,
    apiKey: typeof apiKey === 'string' ? apiKey : undefined,
    metadata,
  };
}

export async function connectClient(opts: ConnectOptions = {}): Promise<Client> {
  const { address, namespace, tls, apiKey, metadata } = resolveConnection(opts);
  // Encrypted payloads: the CLI and the schedules it creates use the worker's keys.
  const dataConverter = slipwayDataConverter();
  try {
    const connection = await Connection.connect({ address, tls, apiKey, metadata, connectTimeout: 5000 });
    return new Client({ connection, namespace, ...(dataConverter ? { dataConverter } : {}) });
  } catch (err) {
    throw new TemporalUnreachableError(address, err);
  }
}
