import { Option, type Command } from 'commander';
import { connectClient, type ConnectOptions } from '../connection.js';
import { SlipwayClient } from '../slipway-client.js';

export interface ConnectionFlags extends ConnectOptions {
  json?: boolean;
}

/** --address / --namespace on every command that talks to Temporal (envconfig fills the rest). */
export function connectionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--address <host:port>', 'Temporal frontend (default: TEMPORAL_ADDRESS or 127.0.0.1:7233)'))
    .addOption(new Option('--namespace <ns>', 'Temporal namespace (default: TEMPORAL_NAMESPACE or default)'));
}

/** Runs `fn` with a connected client and closes the connection afterwards. */
export async function withClient<T>(flags: ConnectOptions, fn: (client: SlipwayClient) => Promise<T>): Promise<T> {
  const client = await connectClient(flags);
  try {
    return await fn(new SlipwayClient(client));
  } finally {
    await client.connection.close();
  }
}
