import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileScorer } from '../../src/quality/scorers.js';
import { packageRoot } from '../../src/system/tools.js';

// The tiny-llm example's CI files: the GitHub Actions workflow (parsed, and its shell steps run here),
// the scorer cases its Python tests share with Slipway, and its pins in the repo's setup.

const example = path.join(packageRoot, 'examples', 'tiny-llm');

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  run?: string;
}
const workflow = parse(readFileSync(path.join(example, 'ci', 'slipway.yml'), 'utf8')) as {
  on: { push: { branches: string[] }; pull_request: { branches: string[] } };
  jobs: { trigger: { steps: Step[]; env: Record<string, string> } };
};
const steps = workflow.jobs.trigger.steps;
const step = (name: string) => {
  const found = steps.find((s) => s.id === name || s.name?.startsWith(name));
  if (!found?.run) throw new Error(`no step ${name} with a run script in ci/slipway.yml`);
  return found as Step & { run: string };
};

/** Runs a step's script as Actions would (bash -e), with its outputs and env files in a temp dir. */
function runStep(s: Step & { run: string }, env: Record<string, string>, cwd: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-ci-step-'));
  const files = { GITHUB_OUTPUT: path.join(dir, 'output'), GITHUB_ENV: path.join(dir, 'env') };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const res = spawnSync('bash', ['-e', '-c', s.run], { cwd, env: { PATH: process.env.PATH, ...files, ...env }, encoding: 'utf8' });
  return { code: res.status, stdout: res.stdout, output: readFileSync(files.GITHUB_OUTPUT, 'utf8'), env: readFileSync(files.GITHUB_ENV, 'utf8') };
}

describe('examples/tiny-llm/ci/slipway.yml', () => {
  it('runs on pushes to main and develop and on pull requests to main, and waits on slipway trigger for the git range', () => {
    expect(workflow.on.push.branches).toEqual(['main', 'develop']);
    expect(workflow.on.pull_request.branches).toEqual(['main']);
    expect(steps.find((s) => s.uses?.startsWith('actions/checkout'))?.with?.['fetch-depth']).toBe(0);
    const trigger = step('slipway trigger');
    expect(trigger.run).toBe('npx slipway trigger --spec "$SPEC_FILE" --git-range "$RANGE" --wait');
    expect(trigger.env?.RANGE).toBe('${{ steps.range.outputs.range }}');
    for (const s of steps.filter((x) => x.run)) expect(s.run, 'expressions go through env, never into scripts').not.toContain('${{');
  });

  it('takes the Temporal connection from secrets, passing on only those that are set', () => {
    const s = step('Temporal connection');
    expect(s.env?.TEMPORAL_ADDRESS).toBe('${{ secrets.TEMPORAL_ADDRESS }}');
    expect(s.env?.TEMPORAL_API_KEY).toBe('${{ secrets.TEMPORAL_API_KEY }}');
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    const ok = runStep(s, { TEMPORAL_ADDRESS: 'temporal.example.com:7233', TEMPORAL_NAMESPACE: '', TEMPORAL_TLS_CLIENT_CERT_DATA: pem }, os.tmpdir());
    expect(ok.code).toBe(0);
    expect(ok.env).toBe(`TEMPORAL_ADDRESS<<SLIPWAY_ENV_END\ntemporal.example.com:7233\nSLIPWAY_ENV_END\nTEMPORAL_TLS_CLIENT_CERT_DATA<<SLIPWAY_ENV_END\n${pem}\nSLIPWAY_ENV_END\n`);
    const missing = runStep(s, {}, os.tmpdir());
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('::error::set the TEMPORAL_ADDRESS secret');
  });

  it('picks the git range of a push, a new branch, a force push and a pull request', () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), 'slipway-ci-range-'));
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();
    git('init', '-q');
    for (const n of [1, 2]) {
      writeFileSync(path.join(repo, `f${n}`), `${n}\n`);
      git('add', '.');
      git('commit', '-qm', `c${n}`);
    }
    const [c1, c2] = [git('rev-parse', 'HEAD~1'), git('rev-parse', 'HEAD')];
    const range = (env: Record<string, string>) => {
      const res = runStep(step('range'), { AFTER: c2, ...env }, repo);
      expect(res.code).toBe(0);
      return res.output;
    };
    expect(range({ EVENT: 'push', BEFORE: c1 })).toBe(`range=${c1}..${c2}\n`);
    expect(range({ EVENT: 'push', BEFORE: '0'.repeat(40) })).toBe(`range=${c2}~1..${c2}\n`);
    expect(range({ EVENT: 'push', BEFORE: 'f'.repeat(40) })).toBe(`range=${c2}~1..${c2}\n`);
    expect(range({ EVENT: 'pull_request', PR_BASE: c1, PR_HEAD: c2 })).toBe(`range=${c1}...${c2}\n`);
    expect(git('diff', '--name-only', `${c1}...${c2}`)).toBe('f2');
  });
});

describe('the tiny-llm example', () => {
  it("evaluate.py's exact_match gives Slipway's exact_match verdicts (the cases its pytest checks too)", () => {
    const { cases } = JSON.parse(readFileSync(path.join(example, 'tests', 'unit', 'exact_match_cases.json'), 'utf8')) as { cases: Array<{ answer: string; expected: string; correct: boolean }> };
    expect(cases.length).toBeGreaterThan(10);
    for (const c of cases) expect(compileScorer('exact_match', c.expected)(c.answer).correct, JSON.stringify(c)).toBe(c.correct);
  });

  it("the repo's setup installs the example's pinned requirements", () => {
    const pins = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    const examplePins = pins(path.join(example, 'requirements.txt'));
    expect(examplePins).toEqual(expect.arrayContaining(['torch==2.13.0', expect.stringMatching(/^ruff==/), expect.stringMatching(/^mypy==/), expect.stringMatching(/^pytest==/), expect.stringMatching(/^pytest-timeout==/)]));
    for (const pin of examplePins) expect(pin).toMatch(/^[a-z0-9-]+==[\w.]+$/);
    expect(pins(path.join(packageRoot, 'scripts', 'requirements.txt'))).toEqual(expect.arrayContaining(examplePins));
  });
});
