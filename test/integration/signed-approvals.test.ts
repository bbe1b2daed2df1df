// Signed approvals on the real dev server and worker, with keys made by the real ssh-keygen:
// forged, wrong-key, stale, unsigned and other-release signatures are refused and recorded while
// the run waits; a 2-of-3 quorum of distinct signed approvers (the starter excluded) releases it.
import { Client, Connection } from '@temporalio/client';
import { mkdtempSync, readFileSync } from 'node:fs';
import { deploymentDir, readState } from '../../src/activities/deploy/state.js';
import { packageRoot } from '../../src/system/tools.js';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { auditOf } from '../../src/client/commands/audit.js';
import { releaseForSigning, signDecision } from '../../src/client/signing.js';
import { SlipwayClient } from '../../src/client/slipway-client.js';
import { approveSignal } from '../../src/workflows/messages.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import type { PipelineStatus, Stage } from '../../src/workflows/status.js';
import { allowedSignersFile, makeKey } from '../approvals/keys.js';
import { SECRET_VALUES, TEST_SECRETS } from '../support/secrets.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { recordHistory } from '../support/histories.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { writeSpec } from './fixtures.js';
import { endpointPort } from '../support/ports.js';

const address = inject('temporalAddress');
const mlflowUrl = inject('mlflowUrl');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-signed-'));
const jobEnvFile = path.join(stateDir, 'job-environ.txt');
const countingJob = path.join(packageRoot, 'test', 'fixtures', 'jobs', 'counting-job.mjs');
const cliEnv = { TEMPORAL_ADDRESS: address, SLIPWAY_USER: '' };
const [alice, bob, carol, mallory] = ['alice', 'bob', 'carol', 'mallory'].map(makeKey) as [ReturnType<typeof makeKey>, ReturnType<typeof makeKey>, ReturnType<typeof makeKey>, ReturnType<typeof makeKey>];

let connection: Connection;
let slipway: SlipwayClient;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  connection = await Connection.connect({ address });
  slipway = new SlipwayClient(new Client({ connection }));
  // The worker holds credentials (MLflow ignores them without auth): none may reach its children.
  worker = await startWorkerProcess(['--address', address, '--state-dir', stateDir], { MLFLOW_TRACKING_URI: mlflowUrl, ...TEST_SECRETS });
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(stateDir);
  await connection?.close();
});

async function atStage(id: string, stage: Stage): Promise<PipelineStatus> {
  for (let i = 0; i < 400; i++) {
    const view = await slipway.status(id).catch(() => undefined);
    if (view?.stage === stage) return view;
    await sleep(250);
  }
  throw new Error(`${id} never reached ${stage}`);
}

/** Waits until `n` refusals are recorded (signals are fire-and-forget). */
async function refusals(id: string, n: number): Promise<PipelineStatus['approval']> {
  for (let i = 0; i < 100; i++) {
    const approval = (await slipway.status(id)).approval;
    if ((approval?.refused.length ?? 0) >= n) return approval;
    await sleep(100);
  }
  throw new Error(`${id}: fewer than ${n} refusals recorded`);
}

describe('signed approvals on the real dev server', () => {
  it('refuses forged, wrong-key, stale, unsigned and other-release decisions, then a signed 2-of-3 quorum approves', async () => {
    // Alice's key inline, bob's and carol's from an allowed_signers file the CLI reads.
    const spec = writeSpec({
      name: 'signed',
      deployPort: await endpointPort(),
      // Kept warm so that the model server's environment can be read while the release waits.
      approval: { approvers: ['alice', 'bob', 'carol'], timeout: '1h', min_approvals: 2, separate_duties: true, signature_max_age: '5m', keep_candidate_warm: true },
      signers: { alice: alice.publicKey },
      signers_file: allowedSignersFile([bob, carol]),
      // The training job records its own /proc/<pid>/environ, then runs the counting job.
      train: {
        command: ['sh', '-c', `tr '\\0' '\\n' < /proc/$$/environ > ${jobEnvFile}; exec "${process.execPath}" ${countingJob} "$@"`, 'job'],
        params: { steps: 20, 'step-ms': 20, 'checkpoint-every': 5 },
        env: { SPEC_NAMED: 'passed' },
        heartbeat_timeout: '3s',
      },
    });
    const started = await runCli(['run', spec, '--release', 's1', '--as', 'carol', '--json'], cliEnv);
    expect(started.code, started.stderr).toBe(0);
    const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    const waiting = await atStage(id, 'awaiting-approval');
    expect(waiting.startedBy).toBe('carol');

    // The worker's secrets stayed with it: neither the training job nor the model server has them.
    const jobEnv = readFileSync(jobEnvFile, 'utf8');
    expect(jobEnv).toMatch(/^PATH=/m);
    expect(jobEnv).toMatch(/^SPEC_NAMED=passed$/m);
    const server = readState(deploymentDir(stateDir, 'signed')).versions['signed-s1-default'];
    const serverEnv = readFileSync(`/proc/${server?.pid}/environ`, 'utf8');
    expect(serverEnv).toMatch(/(^|\0)PATH=/);
    for (const secret of SECRET_VALUES) {
      expect(jobEnv).not.toContain(secret);
      expect(serverEnv).not.toContain(secret);
    }
    expect(serverEnv).not.toMatch(/MLFLOW_TRACKING_(PASSWORD|TOKEN|USERNAME)|SLIPWAY_WEBHOOK_URL/);
    expect(waiting.approval).toMatchObject({ minApprovals: 2, requireSignature: true, stillNeeded: { count: 2, from: ['alice', 'bob'] } });

    const release = await releaseForSigning(slipway.client, id);
    const handle = slipway.handle(id);
    const send = (input: Parameters<typeof handle.signal<[unknown]>>[1]) => handle.signal(approveSignal, input as never);

    // Mallory signs with her own key as alice: wrong key.
    await send({ approver: 'alice', reason: 'trust me', signature: await signDecision(release, 'approve', 'alice', 'trust me', mallory.file) });
    // Alice's real signature with the reason changed: forged.
    const good = await signDecision(release, 'approve', 'alice', 'looks fine', alice.file);
    await send({ approver: 'alice', reason: 'ship it now', signature: good });
    // Signed an hour ago: stale.
    await send({ approver: 'alice', reason: 'old', signature: await signDecision(release, 'approve', 'alice', 'old', alice.file, new Date(Date.now() - 3_600_000)) });
    // A valid signature made for another release.
    await send({ approver: 'alice', reason: 'elsewhere', signature: await signDecision({ ...release, workflowId: 'release:other-model:s1' }, 'approve', 'alice', 'elsewhere', alice.file) });
    // Unsigned, as from the UI without `slipway sign`.
    await send({ approver: 'alice', reason: 'unsigned' });
    const refused = await refusals(id, 5);
    expect(refused?.refused.map((r) => r.reason)).toEqual([
      expect.stringMatching(new RegExp(`signed with key ${mallory.fingerprint.replace(/[+/]/g, '.')}, which is not a key of this signer`)),
      expect.stringMatching(/does not match the statement \(forged or altered\)/),
      expect.stringMatching(/^stale: signed at .*more than 5m ago/),
      expect.stringMatching(/signed for another release \(release:other-model:s1\)/),
      expect.stringMatching(/^unsigned: this release requires signed decisions/),
    ]);
    expect((await slipway.status(id)).stage).toBe('awaiting-approval');

    // The starter may not approve (separated duties), signed or not.
    const byCarol = await runCli(['approve', id, '--as', 'carol', '--key', carol.file, '--reason', 'mine'], cliEnv);
    expect(byCarol.code).toBe(4);
    expect(byCarol.stderr).toMatch(/carol started this release and may not approve it/);

    // Alice approves from the UI with the payload `slipway sign` printed: one of two.
    const payload = await runCli(['sign', 'approve', id, '--as', 'alice', '--key', alice.file, '--reason', 'eval looks good'], cliEnv);
    expect(payload.code, payload.stderr).toBe(0);
    const signedByAlice = JSON.parse(payload.stdout) as Record<string, unknown>;
    await send(signedByAlice);
    let one = await slipway.status(id);
    for (let i = 0; i < 50 && !one.approval?.votes?.length; i++) one = await sleep(100).then(() => slipway.status(id));
    expect(one.stage).toBe('awaiting-approval');
    expect(one.approval?.votes).toEqual([expect.objectContaining({ by: 'alice', signed: true, fingerprint: alice.fingerprint })]);
    expect(one.approval?.stillNeeded).toEqual({ count: 1, from: ['bob'] });
    expect((await runCli(['status', id], cliEnv)).stdout).toMatch(/still needed: 1 more of bob/);

    // The same payload again is a replay; a fresh signature by alice does not count twice.
    await send(signedByAlice);
    expect((await refusals(id, 7))?.refused.at(-1)?.reason).toMatch(/^replayed: nonce/);
    const twice = await runCli(['approve', id, '--as', 'alice', '--key', alice.file, '--reason', 'again'], cliEnv);
    expect(twice.code).toBe(4);
    expect(twice.stderr).toMatch(/alice has already approved/);
    expect((await slipway.status(id)).stage).toBe('awaiting-approval');

    // Bob signs through the CLI: the quorum is met.
    const byBob = await runCli(['approve', id, '--as', 'bob', '--key', bob.file, '--reason', 'agreed', '--json'], cliEnv);
    expect(byBob.code, byBob.stderr).toBe(0);
    const result = (await slipway.result(id)) as ReleaseResult;
    expect(result.status).toBe('completed');
    expect(result.approval).toMatchObject({ decision: 'approved', by: 'alice, bob', signed: true });
    await recordHistory(handle, 'signed-quorum-approved');

    // The audit trail: who, when, why, signed with which key, and every refusal.
    const trail = await auditOf(slipway, id);
    const counted = trail.entries.filter((e) => e.counted);
    expect(counted.map((e) => [e.by, e.fingerprint, e.reason])).toEqual([
      ['alice', alice.fingerprint, 'eval looks good'],
      ['bob', bob.fingerprint, 'agreed'],
    ]);
    expect(trail.entries.filter((e) => !e.counted)).toHaveLength(8);
    const text = await runCli(['audit', id], cliEnv);
    expect(text.stdout).toContain(`signed ${bob.fingerprint}`);
    expect(text.stdout).toMatch(/carol .*refused: carol started this release/);

    // The same facts as tags on the release's MLflow run.
    const runId = result.report.mlflow?.runId;
    const run = (await (await fetch(`${mlflowUrl}/api/2.0/mlflow/runs/get?run_id=${runId}`)).json()) as { run: { data: { tags: Array<{ key: string; value: string }> } } };
    const tags = Object.fromEntries(run.run.data.tags.map((t) => [t.key, t.value]));
    expect(tags['slipway.approval.votes']).toBe(`alice (signed ${alice.fingerprint}); bob (signed ${bob.fingerprint})`);
    expect(tags['slipway.approval.signed']).toBe('true');
    expect(tags['slipway.approval.refused']).toBe('8');
    expect(tags['slipway.audit']).toContain('replayed: nonce');
  });
});
