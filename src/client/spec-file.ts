import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { parseAllowedSigners } from '../approvals/signers.js';
import { formatSpecIssues, PipelineSpecSchema, type PipelineSpec } from '../spec/schema.js';

/** A spec that failed to load or validate; `problems` has one line per field. */
export class SpecError extends Error {
  readonly code = 'SLIPWAY_INVALID_SPEC';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file} is not a valid pipeline spec:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface LoadedSpec {
  file: string;
  dir: string;
  spec: PipelineSpec;
  /** sha256 of the file as written. */
  digest: string;
  /** Git commit of the spec's checkout (`-dirty` when it has local changes), or `unversioned`. */
  codeVersion: string;
}

/** Reads a YAML or JSON spec and validates it; nothing starts unless this succeeds. */
export function loadSpec(file: string): LoadedSpec {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new SpecError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  let raw: unknown;
  try {
    raw = abs.endsWith('.json') ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new SpecError(file, [`not valid ${abs.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`]);
  }
  const parsed = PipelineSpecSchema.safeParse(raw);
  if (!parsed.success) throw new SpecError(file, formatSpecIssues(parsed.error));
  const dir = path.dirname(abs);
  if (parsed.data.signers_file) readSignersFile(file, dir, parsed.data);
  return { file: abs, dir, spec: parsed.data, digest: createHash('sha256').update(text).digest('hex'), codeVersion: codeVersionOf(dir) };
}

/**
 * Adds the keys of `signers_file` to `signers`: the workflow cannot read files, so the public keys
 * travel in its input (they are not secrets). Keys listed inline stay; the file's are added.
 */
function readSignersFile(file: string, dir: string, spec: PipelineSpec): void {
  const signersFile = path.resolve(dir, spec.signers_file ?? '');
  let text: string;
  try {
    text = readFileSync(signersFile, 'utf8');
  } catch (err) {
    throw new SpecError(file, [`signers_file: cannot read ${signersFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  let fromFile: Record<string, string[]>;
  try {
    fromFile = parseAllowedSigners(text);
  } catch (err) {
    throw new SpecError(file, [`signers_file: ${signersFile} ${(err as Error).message}`]);
  }
  const checked = PipelineSpecSchema.shape.signers.safeParse(fromFile);
  if (!checked.success) throw new SpecError(file, formatSpecIssues(checked.error).map((i) => `signers_file: ${signersFile}: ${i}`));
  for (const [name, keys] of Object.entries(fromFile)) {
    const inline = spec.signers[name];
    spec.signers[name] = [...(inline === undefined ? [] : typeof inline === 'string' ? [inline] : inline), ...keys];
  }
}

function codeVersionOf(dir: string): string {
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = git('rev-parse', 'HEAD').slice(0, 12);
    return git('status', '--porcelain', '--', '.') ? `${head}-dirty` : head;
  } catch {
    return 'unversioned';
  }
}

/** The default release label: the same spec at the same code version is the same release. */
export function defaultRelease(loaded: LoadedSpec): string {
  return createHash('sha256').update(`${loaded.digest}:${loaded.codeVersion}`).digest('hex').slice(0, 10);
}

export function releaseWorkflowId(model: string, release: string): string {
  return `release:${model}:${release}`;
}
