// The published package as a user gets it: `npm pack`, installed into a scratch project from the
// tarball (offline, from the npm cache), then imported and run through its bin.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/system/tools.js';

const exec = promisify(execFile);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'slipway-pack-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  [key: string]: unknown;
}

/**
 * A lockfile for the scratch project: the tarball plus the runtime entries of the repo's own lock.
 * With every version pinned, `npm ci --offline` needs only the tarballs already in the npm cache,
 * not the registry's package documents (which the cache does not hold).
 */
function scratchLock(tarball: string): unknown {
  const lock = JSON.parse(readFileSync(path.join(packageRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const self = lock.packages[''] as LockEntry & { dependencies: Record<string, string> };
  const packages: Record<string, unknown> = {
    '': { name: 'scratch', dependencies: { slipway: `file:${tarball}` } },
    'node_modules/slipway': { version: self.version, resolved: `file:${tarball}`, dependencies: self.dependencies, bin: { slipway: 'bin/slipway.js' } },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key || entry.dev) continue;
    const rest = { ...entry };
    delete rest.devOptional;
    packages[key] = rest;
  }
  return { name: 'scratch', lockfileVersion: 3, requires: true, packages };
}

describe('the npm package', () => {
  it('ships its build: installed from the tarball, it imports and its CLI runs', async () => {
    // prepack builds dist/ from scratch, so the tarball holds what the sources say today.
    const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: packageRoot, maxBuffer: 16 << 20 });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/client/cli.js', 'dist/workflows/index.js', 'bin/slipway.js', 'README.md', 'scripts/setup.sh', 'examples/tiny-llm/pipeline.yaml']));
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);

    const project = path.join(scratch, 'project');
    const tarball = path.join(scratch, packed!.filename);
    await exec('mkdir', ['-p', project]);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies: { slipway: `file:${tarball}` } }));
    writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify(scratchLock(tarball)));
    await exec('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: project });

    const probe = "import('slipway').then(async (m) => { const w = await import('slipway/workflow'); console.log(typeof m.slipwayPlugin, typeof m.SlipwayClient, typeof w.releasePipeline); })";
    const imported = await exec(process.execPath, ['-e', probe], { cwd: project });
    expect(imported.stdout.trim()).toBe('function function function');

    const help = await exec('npx', ['--offline', 'slipway', '--help'], { cwd: project });
    expect(help.stdout).toContain('Usage: slipway');
    expect(help.stdout).toContain('demo');
    const installed = path.join(project, 'node_modules', 'slipway');
    // The demo's spec travels with the package: `npx slipway demo` finds it there.
    expect(existsSync(path.join(installed, 'examples', 'tiny-llm', 'pipeline.yaml'))).toBe(true);

    // Without the Python tools, the CLI names the setup script inside the installed package.
    const bare = { PATH: path.dirname(process.execPath), HOME: os.homedir() };
    const dev = await exec(path.join(project, 'node_modules', '.bin', 'slipway'), ['dev', '--state-dir', path.join(scratch, 'state')], { cwd: project, env: bare }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(dev.code).toBe(5);
    expect(dev.stderr).toContain(`Run \`bash ${path.join(installed, 'scripts', 'setup.sh')}\``);
  }, 180_000);
});
