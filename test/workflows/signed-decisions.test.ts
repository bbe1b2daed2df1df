// Signed and unsigned decisions in the workflow logic (time-skipping server, stubbed activities):
// unsigned approvals count only where the spec allows them, and are marked; a rollback order must
// be signed by an operator's key when the spec requires signatures.
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDecision } from '../../src/client/signing.js';
import type { PipelineSpec } from '../../src/spec/schema.js';
import { approveSignal, rollbackUpdate, statusQuery } from '../../src/workflows/messages.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import type { Stage } from '../../src/workflows/status.js';
import { makeKey } from '../approvals/keys.js';
import { stubActivities, testSpec } from '../support/pipeline-fixtures.js';
import { timeSkippingEnv, workflowBundle } from '../support/temporal.js';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnv();
});
afterAll(async () => env?.teardown());

const ops = makeKey('ops');
const intruder = makeKey('intruder');
let seq = 0;

async function withPipeline<T>(spec: PipelineSpec, body: (id: string, firstRunId: string) => Promise<T>): Promise<T> {
  const taskQueue = `signed-${++seq}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: stubActivities().activities });
  const id = `release:${spec.model.name}:s${seq}`;
  const handle = await env.client.workflow.start('releasePipeline', {
    taskQueue,
    workflowId: id,
    args: [{ spec, specDir: '/tmp', release: `s${seq}`, codeVersion: 'test', queues: { serving: taskQueue, gpu: taskQueue }, startedBy: 'carol' }],
  });
  return worker.runUntil(body(id, handle.firstExecutionRunId));
}

async function waitFor(id: string, ok: (s: Awaited<ReturnType<typeof query>>) => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok(await query(id))) return;
    await sleep(100);
  }
  throw new Error(`${id}: condition never met`);
}
const query = (id: string) => env.client.workflow.getHandle(id).query(statusQuery);
const atStage = (id: string, stage: Stage) => waitFor(id, (s) => s.stage === stage);
const result = (id: string) => env.client.workflow.getHandle(id).result() as Promise<ReleaseResult>;

describe('signed decisions in the release workflow', () => {
  it('counts an unsigned UI approval where require_signature is false, and marks it unsigned', async () => {
    const spec = testSpec({ approval: { approvers: ['alice'], require_signature: false }, signers: { alice: ops.publicKey } });
    const res = await withPipeline(spec, async (id) => {
      await atStage(id, 'awaiting-approval');
      expect((await query(id)).approval?.requireSignature).toBeUndefined();
      await env.client.workflow.getHandle(id).signal(approveSignal, { approver: 'alice', reason: 'from the UI' });
      return result(id);
    });
    expect(res.status).toBe('completed');
    expect(res.approval).toMatchObject({ decision: 'approved', by: 'alice', signed: false });
    expect(res.report.audit).toEqual([expect.objectContaining({ action: 'approve', by: 'alice', counted: true, signed: false, via: 'signal' })]);
    expect(res.report.startedBy).toBe('carol');
  });

  it('refuses an unsigned or wrong-key rollback order, and takes one signed by the operator', async () => {
    const spec = testSpec({ operators: ['ops'], signers: { ops: ops.publicKey }, approval: { approvers: ['alice'], required: false, signature_max_age: '1d' }, monitor: { duration: '2d', interval: '1h' } });
    const res = await withPipeline(spec, async (id, runId) => {
      const handle = env.client.workflow.getHandle(id);
      await atStage(id, 'monitoring');
      // Signed at the workflow's own time: the time-skipping server's clock runs ahead of ours.
      const now = new Date((await query(id)).stages.at(-1)!.startedAt);
      const refused = async (input: Record<string, unknown>) => {
        const err = await handle.executeUpdate(rollbackUpdate, { args: [input as never] }).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
        return (err as WorkflowUpdateFailedError).cause?.message ?? '';
      };
      expect(await refused({ requestedBy: 'ops', reason: 'unsigned' })).toMatch(/^unsigned: this release requires signed decisions/);
      expect(await refused({ requestedBy: 'ops', reason: 'forged', signature: await signDecision({ workflowId: id, runId }, 'rollback', 'ops', 'forged', intruder.file, now) })).toMatch(/not a key of this signer/);
      const reason = 'customer reports';
      const after = await handle.executeUpdate(rollbackUpdate, { args: [{ requestedBy: 'ops', reason, signature: await signDecision({ workflowId: id, runId }, 'rollback', 'ops', reason, ops.file, now) }] });
      expect(after.stage).toBe('rolled-back');
      return result(id);
    });
    expect(res.status).toBe('rolled-back');
    expect(res.report.rollback).toMatchObject({ by: 'ops', reason: 'customer reports' });
    expect(res.report.audit?.filter((e) => e.action === 'rollback' && e.counted)).toEqual([expect.objectContaining({ by: 'ops', signed: true, fingerprint: ops.fingerprint, via: 'update' })]);
  });
});
