// What approvers and operators see, end to end on real parts: the Temporal UI (the dev server's own,
// in headless Chromium) showing a release's gate table and taking an `approve` signal through its
// Send Signal dialog; `status --watch` on a terminal and on a pipe; `list`; and the HTML report,
// logged to MLflow and opened in the browser. Screenshots go to test-results/views/ (and, with
// SLIPWAY_DOCS_SCREENSHOTS=1, to docs/ for the README).
import { Client, Connection } from '@temporalio/client';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MlflowClient } from '../../src/activities/mlflow/client.js';
import { REPORT_ARTIFACT } from '../../src/client/commands/report.js';
import { SlipwayClient } from '../../src/client/slipway-client.js';
import { startTemporalDevServer, type RunningTemporal } from '../../src/stack/temporal-server.js';
import { freePort } from '../../src/system/ports.js';
import { packageRoot } from '../../src/system/tools.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import type { Stage } from '../../src/workflows/status.js';
import { writeSpec } from '../integration/fixtures.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { endpointPort } from '../support/ports.js';

const mlflowUrl = inject('mlflowUrl');
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-views-'));
const stateDir = path.join(dir, 'state');
const shots = path.join(packageRoot, 'test-results', 'views');
const docs = process.env.SLIPWAY_DOCS_SCREENSHOTS === '1' ? path.join(packageRoot, 'docs') : undefined;

let temporal: RunningTemporal | undefined;
let worker: WorkerProcess | undefined;
let browser: Browser | undefined;
let connection: Connection | undefined;
let slipway: SlipwayClient;
let uiUrl: string;

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  // The suite's shared server is headless: this test needs the dev server's Web UI.
  const uiPort = await freePort();
  temporal = await startTemporalDevServer({ port: await freePort(), uiPort, logFile: path.join(dir, 'temporal.log') });
  uiUrl = `http://127.0.0.1:${uiPort}`;
  [worker, browser] = await Promise.all([
    startWorkerProcess(['--address', temporal.address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: mlflowUrl }),
    launchBrowser(),
  ]);
  connection = await Connection.connect({ address: temporal.address });
  slipway = new SlipwayClient(new Client({ connection }));
}, 240_000);

afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await browser?.close();
  await connection?.close();
  await temporal?.stop();
});

async function atStage(id: string, stage: Stage): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await slipway.status(id).catch(() => undefined))?.stage === stage) return;
    await sleep(250);
  }
  throw new Error(`${id} never reached ${stage}`);
}

/** Into test-results/views/; `forDocs`: also into docs/ when SLIPWAY_DOCS_SCREENSHOTS=1. */
async function screenshot(page: Page, name: string, forDocs = false): Promise<void> {
  const file = path.join(shots, name);
  await page.screenshot({ path: file, fullPage: true });
  if (docs && forDocs) copyFileSync(file, path.join(docs, name));
}

/** The UI renders markdown details in frames of their own: the one whose table has `text`. */
async function frameWithTable(page: Page, text: string): Promise<Frame> {
  for (let i = 0; i < 60; i++) {
    for (const frame of page.frames()) {
      if ((await frame.locator('table', { hasText: text }).count().catch(() => 0)) > 0) return frame;
    }
    await sleep(500);
  }
  throw new Error(`no rendered table with "${text}" in the UI`);
}

/** `slipway status --watch` on a pseudo-terminal (script(1)): what a person at a terminal sees. */
function watchOnTty(id: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const cli = `${process.execPath} --import tsx ${path.join(packageRoot, 'src', 'client', 'cli.ts')} status ${id} --watch`;
  const child = spawn('script', ['-qfec', cli, '/dev/null'], { cwd: packageRoot, env: { ...process.env, ...env, NO_COLOR: '1' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

describe('approver and operator views', () => {
  it('shows the gate in the Temporal UI, takes an approve signal from it, and reports the release', async () => {
    const env = { TEMPORAL_ADDRESS: temporal!.address, MLFLOW_TRACKING_URI: mlflowUrl };
    const spec = writeSpec({
      name: 'views',
      deployPort: await endpointPort(),
      approval: { approvers: ['alice'], timeout: '1h' },
      evaluate: { dataset: 'eval.jsonl', concurrency: 2, variants: [{ name: 'lr-1e-3', params: { lr: 0.001 } }, { name: 'lr-3e-4', params: { lr: 0.0003 } }] },
    });
    const started = await runCli(['run', spec, '--release', 'v1', '--json'], env);
    expect(started.code, started.stderr).toBe(0);
    const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    const tty = watchOnTty(id, env);
    const plain = runCli(['status', id, '--watch'], env);
    await atStage(id, 'awaiting-approval');

    const list = await runCli(['list'], env);
    expect(list.code, list.stderr).toBe(0);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+STAGE\s+AGE\s+AWAITING$/);
    expect(rows.find((r) => r.startsWith(id))).toMatch(/awaiting-approval\s+\d+s\s+alice$/);

    // The approver opens the run: the gate table, the champion column, the signal to send.
    const page = await browser!.context.newPage();
    await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(id)}`);
    await page.getByText('User Metadata').first().click();
    const details = await frameWithTable(page, 'champion');
    const gate = details.locator('table', { hasText: 'champion' });
    await expect.poll(() => gate.locator('tr').count()).toBeGreaterThan(2);
    expect(await gate.innerText()).toMatch(/accuracy\s+1\s/);
    expect(await details.locator('body').innerText()).toContain('{"approver": "alice"');
    // The UI scrolls inside its own pane: a tall window shows the whole details panel.
    await page.setViewportSize({ width: 1400, height: 1300 });
    await screenshot(page, 'ui-awaiting-approval.png', true);
    await page.setViewportSize({ width: 1400, height: 1000 });

    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
    // The page keeps a hidden copy of each dialog: act on the one on screen.
    const visible = { visible: true };
    await page.getByTestId('signal-select-button').filter(visible).click();
    await page.getByRole('option', { name: 'approve', exact: true }).filter(visible).click();
    await page.getByRole('textbox', { name: 'Data' }).filter(visible).click();
    // insertText, not typing: the editor would close brackets and quotes as they are typed.
    await page.keyboard.insertText('{"approver": "alice", "reason": "gate table looks good"}');
    await screenshot(page, 'ui-send-signal.png');
    await page.getByTestId('confirm-modal-button').filter(visible).click();

    const result = (await slipway.result(id)) as ReleaseResult;
    expect(result.status).toBe('completed');
    expect(result.approval).toMatchObject({ decision: 'approved', by: 'alice', reason: 'gate table looks good' });
    await page.reload();
    await expect.poll(async () => page.getByText('Completed', { exact: false }).first().isVisible().catch(() => false), { timeout: 30_000 }).toBe(true);
    await screenshot(page, 'ui-completed.png');

    // The operators' views followed it to the end: plain lines on a pipe, a redrawn block on a TTY.
    const [piped, onTty] = await Promise.all([plain, tty]);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).not.toContain('\u001b[');
    expect(piped.stdout).toMatch(/^\[awaiting-approval\] waiting for alice: slipway approve release:views-model:v1 --as <you>$/m);
    expect(piped.stdout).toMatch(/^\[completed\]/m);
    expect(onTty.code).toBe(0);
    // Redrawn in place: the cursor goes back up over the block it drew (ESC [ n A).
    expect(onTty.out).toMatch(new RegExp(`${String.fromCharCode(27)}\\[\\d+A`));
    expect(onTty.out).toMatch(/✓ training\s+\d/);
    expect(onTty.out).toContain('▸ awaiting-approval');

    // The report: one file, logged to the release's MLflow run, with its charts in the DOM.
    const out = path.join(dir, 'report.html');
    const report = await runCli(['report', id, '--out', out, '--json'], env);
    expect(report.code, report.stderr).toBe(0);
    const written = JSON.parse(report.stdout) as { file: string; mlflow: { runId: string; artifactPath: string } };
    expect(written.mlflow.artifactPath).toBe(REPORT_ARTIFACT);
    const html = readFileSync(out, 'utf8');
    expect(html).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/);
    const logged = await new MlflowClient({ trackingUri: mlflowUrl }).downloadArtifact(written.mlflow.runId, REPORT_ARTIFACT);
    expect(logged.toString('utf8')).toBe(html);

    const view = await browser!.context.newPage();
    await view.goto(`file://${out}`);
    expect(await view.locator('#loss-chart polyline').count()).toBe(2);
    expect(await view.locator('.latency-histogram').count()).toBe(2);
    expect(await view.locator('.latency-bar').count()).toBeGreaterThan(0);
    expect(await view.locator('#stage-timeline rect').count()).toBe(result.report.stages.length);
    expect(await view.locator('#gate-table tbody tr').count()).toBeGreaterThanOrEqual(2);
    expect(await view.locator('#decisions-table').innerText()).toMatch(/approved\s+alice\s+gate table looks good/);
    await screenshot(view, 'report.png', true);
  }, 300_000);
});
