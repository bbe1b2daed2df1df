// `slipway codec-server`: decodes encrypted payloads for the Temporal Web UI.
import type { Command } from 'commander';
import { slipwayDataConverter } from '../../codec/aes-gcm-codec.js';
import { startCodecServer } from '../../codec/server.js';
import { ExitError, EXIT } from '../errors.js';
import { printLines } from '../output.js';

export function registerCodecServerCommand(program: Command): void {
  program
    .command('codec-server')
    .description('serve /decode and /encode for the Temporal UI, with the keys of SLIPWAY_CODEC_KEYS_FILE; callers need SLIPWAY_CODEC_SERVER_TOKEN')
    .option('--port <n>', 'port to listen on', '8888')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--ui-origin <url...>', 'origin(s) of the Temporal UI allowed to call it from a browser', ['http://localhost:8233', 'http://127.0.0.1:8233'])
    .addHelpText('after', '\nExample:\n  $ SLIPWAY_CODEC_KEYS_FILE=keys.json SLIPWAY_CODEC_SERVER_TOKEN=$(openssl rand -hex 16) slipway codec-server --ui-origin http://localhost:8233')
    .action(async (flags: { port: string; host: string; uiOrigin: string[] }) => {
      const converter = slipwayDataConverter();
      const codec = converter?.payloadCodecs?.[0];
      if (!codec) throw new ExitError('no keys: set SLIPWAY_CODEC_KEYS_FILE (or SLIPWAY_CODEC_KEYS) to the keys the worker uses', EXIT.usage);
      const token = process.env.SLIPWAY_CODEC_SERVER_TOKEN?.trim();
      if (!token || token.length < 16) throw new ExitError('SLIPWAY_CODEC_SERVER_TOKEN: set a token of at least 16 characters (e.g. openssl rand -hex 16); callers send it as a bearer token', EXIT.usage);
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ExitError(`--port ${flags.port}: expected a port number`, EXIT.usage);
      const { server, url } = await startCodecServer({ codec, token, origins: flags.uiOrigin, port, host: flags.host });
      printLines([`slipway codec server listening on ${url} (UI origins: ${flags.uiOrigin.join(', ')})`]);
      await new Promise<void>((resolve) => {
        for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => server.close(() => resolve()));
      });
    });
}
