#!/usr/bin/env node
// The CLI runs from the compiled build; `npm run build` makes it.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/client/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('slipway: the build is missing (dist/). Run `npm run build` in the Slipway checkout first.');
  process.exit(2);
}
await import(cli.href);
