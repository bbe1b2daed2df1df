import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../src/client/spec-file.js';
import { changedFilesBase, changeFromFiles, classify, matchesGlob } from '../../src/client/trigger.js';
import { writeSpec } from '../integration/fixtures.js';

describe('glob matcher', () => {
  it.each([
    ['src/app.ts', 'src/**', true],
    ['src/a/b/c.ts', 'src/**/*.ts', true],
    ['src/c.ts', 'src/**/*.ts', true],
    ['src/c.js', 'src/**/*.ts', false],
    ['README.md', '*.md', true],
    ['docs/README.md', '*.md', false],
    ['data/train.jsonl', 'data/', true],
    ['data/x.csv', 'data/*.{csv,jsonl}', true],
    ['data/x.parquet', 'data/*.{csv,jsonl}', false],
    ['model/v1.yaml', './model/v?.yaml', true],
    ['eval.jsonl', 'eval.jsonl', true],
    ['evalXjsonl', 'eval.jsonl', false],
  ])('%s against %s → %s', (file, glob, expected) => {
    expect(matchesGlob(file, glob)).toBe(expected);
  });
});

describe('classifying a change', () => {
  const spec = writeSpec({
    name: 'classify',
    deployPort: 9,
    ci: { code: ['src/**', '*.md'], data: ['data/**', 'eval.jsonl'], model: ['model/**', 'src/model/**'], checks: [{ name: 'lint', command: ['true'] }] },
  });
  const loaded = loadSpec(spec);
  const files = (...names: string[]) => changeFromFiles(loaded, names.map((n) => path.join(loaded.dir, n))).files;

  it('a code-only change runs only the light checks, and says which rule matched', () => {
    const d = classify(loaded, files('src/app.ts', 'README.md'));
    expect(d.pipeline).toBeNull();
    expect(d.checks).toMatchObject({ kind: 'code', files: ['README.md', 'src/app.ts'] });
    expect(d.checks?.reason).toContain('src/app.ts matched code rule src/**');
    expect(d.summary).toMatch(/^light checks/);
  });

  it('a data change runs the full pipeline; data and code together run both', () => {
    expect(classify(loaded, files('eval.jsonl'))).toMatchObject({ checks: null, pipeline: { kind: 'data', files: ['eval.jsonl'] } });
    const both = classify(loaded, files('data/new.jsonl', 'src/util.ts'));
    expect(both.pipeline?.kind).toBe('data');
    expect(both.checks?.kind).toBe('code');
  });

  it('a file may match several rules: model code counts as code and as model', () => {
    const d = classify(loaded, files('src/model/net.py'));
    expect(d.pipeline?.kind).toBe('model');
    expect(d.checks?.kind).toBe('code');
  });

  it('nothing matched: nothing runs, and the summary says so', () => {
    const d = classify(loaded, files('notes/todo.txt'));
    expect(d).toMatchObject({ checks: null, pipeline: null, unmatched: ['notes/todo.txt'] });
    expect(d.summary).toMatch(/nothing to run/);
  });

  it('the change digest follows the contents: an edit is a new change, the same files the same one', () => {
    mkdirSync(path.join(loaded.dir, 'src'), { recursive: true });
    const file = path.join(loaded.dir, 'src', 'a.ts');
    writeFileSync(file, 'one');
    const first = changeFromFiles(loaded, [file]).digest;
    expect(changeFromFiles(loaded, [file]).digest).toBe(first);
    writeFileSync(file, 'two');
    expect(changeFromFiles(loaded, [file]).digest).not.toBe(first);
  });
});

describe('where --changed paths start', () => {
  it('inside a git repository: at its root, as `git diff --name-only` prints them, wherever the command runs', () => {
    const spec = writeSpec({ name: 'paths', deployPort: 9, ci: { code: ['src/**'], checks: [{ name: 'lint', command: ['true'] }] } });
    const root = path.dirname(spec);
    execFileSync('git', ['init', '-q', root]);
    const sub = path.join(root, 'tools', 'ci');
    mkdirSync(sub, { recursive: true });
    expect(changedFilesBase(sub)).toBe(realpathSync(root));
    const loaded = loadSpec(spec);
    const change = changeFromFiles(loaded, ['src/app.ts'], changedFilesBase(sub));
    expect(change.files).toEqual(['src/app.ts']);
    expect(classify(loaded, change.files).checks?.kind).toBe('code');
  });

  it('outside a repository: at the current directory', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-norepo-'));
    expect(changedFilesBase(dir)).toBe(dir);
  });
});
