import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';

export interface ConnectOptions {
  /** Overrides TEMPORAL_ADDRESS / the envconfig profile. */
  address?: string;
  namespace?: string;
}

/** Raised when the Temporal frontend cannot be reached; says how to start one. */
export class TemporalUnreachableError extends Error {
  readonly code = 'SLIPWAY_TEMPORAL_UNREACHABLE';
  constructor(address: string, cause: unknown) {
    super(
      `cannot reach Temporal at ${address} (${cause instanceof Error ? cause.message : String(cause)}). ` +
        'Start the local stack with `slipway dev`, or point at your cluster with --address / TEMPORAL_ADDRESS.',
    );
  }
}

/** Settings come from @temporalio/envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, profiles), then flags. */
export function resolveConnection(opts: ConnectOptions = {}): { address: string; namespace: string } {
  const config = loadClientConnectConfig();
  return {
    address: opts.address ?? config.connectionOptions.address ?? '127.0.0.1:7233',
    namespace: opts.namespace ?? config.namespace ?? 'default',
  };
}

export async function connectClient(opts: ConnectOptions = {}): Promise<Client> {
  const { address, namespace } = resolveConnection(opts);
  try {
    const connection = await Connection.connect({ address, connectTimeout: 5000 });
    return new Client({ connection, namespace });
  } catch (err) {
    throw new TemporalUnreachableError(address, err);
  }
}
