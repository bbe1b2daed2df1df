// Fuzzed messages to a real release waiting for approval (real dev server, real `slipway worker`
// process): any JSON, huge strings, deep nesting, unicode and wrong types, sent to every signal and
// update the release registers and to names it does not. Each one ends in a refused update, a
// refusal recorded in the status, or the server's own refusal of an oversized payload — never a
// failed workflow task, a dead worker or a moved stage; a valid approval then completes the release.
// The CLI refuses oversized input before sending, and an unknown signal sent with the real
// `temporal` CLI is recorded.
import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import proto from '@temporalio/proto';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadSpec } from '../../src/client/spec-file.js';
import { SlipwayClient } from '../../src/client/slipway-client.js';
import { MAX_PAYLOAD_BYTES } from '../../src/stack/temporal-server.js';
import { findTool } from '../../src/system/tools.js';
import { MAX_REASON_CHARS } from '../../src/workflows/message-limits.js';
import { DecisionInputSchema, ROLLOUT_ACTIONS, SIGNAL_NAMES } from '../../src/workflows/messages.js';
import type { ReleaseResult } from '../../src/workflows/release-pipeline.js';
import type { PipelineStatus } from '../../src/workflows/status.js';
import { writeSpec } from '../integration/fixtures.js';
import { stopLocalDeployments } from '../support/deployments.js';
import { runCli, startWorkerProcess, type WorkerProcess } from '../support/processes.js';
import { fuzzParams } from './support.js';
import { endpointPort } from '../support/ports.js';

const EventType = proto.temporal.api.enums.v1.EventType;
const address = inject('temporalAddress');
const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-messages-'));
const UPDATE_NAMES = ['approveRelease', 'rejectRelease', 'rollbackRelease', ...ROLLOUT_ACTIONS.map((a) => `${a}Rollout`)];
let worker: WorkerProcess;
let connection: Connection;
let slipway: SlipwayClient;
let workflowId: string;
let firstRunId: string;

beforeAll(async () => {
  // A page of this history may hold many signals just under the server's limit: more than gRPC's 4 MB default.
  connection = await Connection.connect({ address, channelArgs: { 'grpc.max_receive_message_length': 64 * 1024 * 1024 } });
  slipway = new SlipwayClient(new Client({ connection }));
  worker = await startWorkerProcess(['--address', address, '--state-dir', path.join(dir, 'state')], { MLFLOW_TRACKING_URI: inject('mlflowUrl') });
  const spec = writeSpec({ name: 'msgfuzz', deployPort: await endpointPort(), approval: { approvers: ['alice'], timeout: '1h' }, monitor: { duration: '1s', interval: '1s' } });
  ({ workflowId } = await slipway.start(loadSpec(spec), { release: 'r1' }));
  for (let i = 0; i < 480 && (await status()).stage !== 'awaiting-approval'; i++) await sleep(250);
  expect((await status()).stage).toBe('awaiting-approval');
  firstRunId = (await handle().describe()).runId;
});
afterAll(async () => {
  await worker?.kill();
  await stopLocalDeployments(path.join(dir, 'state'));
  await connection?.close();
});

/** The status; when the query fails, the error says why the run's last workflow task failed. */
async function status(): Promise<PipelineStatus> {
  try {
    return await slipway.releaseStatus(workflowId);
  } catch (err) {
    const failed = (await handle().fetchHistory()).events?.findLast((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
    const failure = failed?.workflowTaskFailedEventAttributes?.failure;
    throw new Error(`status query failed (${String(err)}); last failed workflow task: ${failure ? `${failure.message}\n${failure.stackTrace}` : 'none'}`, { cause: err });
  }
}
const handle = () => slipway.handle(workflowId);

/** A string that is never the approver's name, so that no fuzzed decision can count. */
const name = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('', '   ', 'release:other-model:r0')).filter((s) => s.trim() !== 'alice');
const huge = fc.constantFrom(MAX_REASON_CHARS + 1, 20_000, 200_000, MAX_PAYLOAD_BYTES + 1).map((n) => '🚀x'.repeat(Math.ceil(n / 3)));
const deep = fc.integer({ min: 50, max: 2_000 }).chain((depth) => fc.constantFrom(JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown, JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) as unknown));
const anything: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'grapheme' }), huge, deep, fc.constant(undefined));
const fieldValue = fc.oneof(name, anything);
const payload: fc.Arbitrary<unknown> = fc.oneof(
  anything,
  // Shaped like the real messages, with wrong, huge or foreign values and keys.
  fc.record(
    {
      approver: fieldValue,
      requestedBy: fieldValue,
      by: fieldValue,
      reason: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), huge, anything),
      full: fc.oneof(fc.boolean(), anything),
      signature: fc.oneof(fc.record({ workflowId: fieldValue, runId: fieldValue, time: fc.string(), nonce: fc.string(), sshsig: fieldValue }, { requiredKeys: [] }), anything),
      [`${'k'.repeat(40)}`]: anything,
    },
    { requiredKeys: [] },
  ),
);
const unknownName = fc.oneof(fc.constantFrom('aprove', 'Approve', 'approve ', 'status', 'approveRelease'), fc.string({ minLength: 1, maxLength: 40 })).filter((n) => !SIGNAL_NAMES.includes(n));
const bytes = (p: unknown) => Buffer.byteLength(JSON.stringify(p) ?? '');
const message = fc.oneof(
  fc.record({ kind: fc.constant('signal' as const), name: fc.oneof(fc.constantFrom(...SIGNAL_NAMES), unknownName), payload }),
  // Updates stay under the server's payload limit, which it does not check for them: the worker's
  // answer to one over it carries the request back, which the SDK refuses to send, failing the
  // workflow task (PayloadsTooLarge) until the server gives up on the update (see the README).
  fc.record({ kind: fc.constant('update' as const), name: fc.oneof(fc.constantFrom(...UPDATE_NAMES), unknownName), payload: payload.filter((p) => bytes(p) < MAX_PAYLOAD_BYTES - 8192) }),
);

/** The status's trace of refused messages: invalid ones counted, refused decisions in the audit trail. */
const trace = (s: PipelineStatus) => ({ invalid: s.invalidMessageCount ?? 0, audit: s.audit ?? [], last: s.invalidMessages.at(-1) });
const tooBigForServer = (error: unknown) => /Blob data size exceeds limit|message larger than max|ResourceExhausted/i.test(String(error instanceof Error ? `${error.message} ${String(error.cause)}` : error));

describe('fuzzed signals and updates to a release awaiting approval', () => {
  it('end in a refused update or a recorded refusal, never a failed workflow task, a dead worker or a moved stage', async () => {
    const outcomes = { refusedUpdate: 0, recorded: 0, refusedByServer: 0 };
    await fc.assert(
      fc.asyncProperty(message, async (m) => {
        const before = trace(await status());
        const sent = m.kind === 'signal' ? handle().signal(m.name, m.payload) : handle().executeUpdate(m.name, { args: [m.payload] });
        const error = await sent.then(
          () => undefined,
          (err: unknown) => err,
        );
        const after = await status();
        expect(after.stage).toBe('awaiting-approval');
        expect(after.approval?.decision).toBeUndefined();
        if (error && !(error instanceof WorkflowUpdateFailedError)) {
          // Over the embedded server's payload limit: refused at the door, nothing reached the run.
          expect(tooBigForServer(error), String(error)).toBe(true);
          expect(trace(after).invalid).toBe(before.invalid);
          outcomes.refusedByServer += 1;
          return;
        }
        if (m.kind === 'update') {
          expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
          expect(trace(after).invalid).toBe(before.invalid);
          outcomes.refusedUpdate += 1;
          return;
        }
        const decision = (m.name === 'approve' || m.name === 'reject') && DecisionInputSchema.safeParse(m.payload);
        if (decision && decision.success) {
          // A well-formed decision by someone who is not an approver: refused, and in the audit trail.
          expect(after.audit?.at(-1)).toMatchObject({ action: m.name, by: decision.data.approver, counted: false, via: 'signal' });
          expect(after.audit!.length === 200 || after.audit!.length === before.audit.length + 1).toBe(true);
        } else {
          expect(trace(after).invalid).toBe(before.invalid + 1);
          expect(trace(after).last?.name).toBe(m.name);
          // Recorded short, whatever the payload held.
          expect(trace(after).last!.error.length).toBeLessThanOrEqual(400);
        }
        outcomes.recorded += 1;
      }),
      fuzzParams(60),
    );
    expect(outcomes.recorded).toBeGreaterThan(0);
    expect(outcomes.refusedUpdate).toBeGreaterThan(0);

    expect(worker.child.exitCode).toBeNull();
    expect((await handle().describe()).status.name).toBe('RUNNING');
    for (const events of await chainEvents()) expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toEqual([]);
    // The status stays small, however much was sent.
    expect(JSON.stringify(await status()).length).toBeLessThan(200_000);
  });

  it('records an unknown signal name sent with the temporal CLI instead of buffering it', async () => {
    const before = await status();
    await promisify(execFile)(findTool('temporal'), ['workflow', 'signal', '--address', address, '--workflow-id', workflowId, '--name', 'aprove', '--input', '{"approver":"alice","reason":"typo"}']);
    const after = await status();
    expect(after.invalidMessageCount).toBe((before.invalidMessageCount ?? 0) + 1);
    expect(after.invalidMessages.at(-1)).toMatchObject({ name: 'aprove', error: expect.stringMatching(/unknown signal .* this release takes approve, reject, rollback/) });
    expect(after.approval?.decision).toBeUndefined();
  });

  it("refuses an approver's 400,000-character reason: the update by its validator, out of history; the signal recorded by its size only", async () => {
    const big = { approver: 'alice', reason: 'x'.repeat(400_000) };
    const historyChars = async () => JSON.stringify((await handle().fetchHistory()).events).length;
    const before = await historyChars();
    const refused = await handle()
      .executeUpdate('approveRelease', { args: [big] })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InvalidMessage', message: expect.stringMatching(/message too large: 4000\d\d characters as JSON, the limit is 16384/) });
    expect((await historyChars()) - before).toBeLessThan(10_000);

    await handle().signal('approve', big);
    const after = await status();
    expect(after.invalidMessages.at(-1)).toMatchObject({ name: 'approve', error: expect.stringMatching(/message too large: 4000\d\d characters .*its content was not kept/) });
    expect(after.approval?.decision).toBeUndefined();
    expect(JSON.stringify(after).length).toBeLessThan(200_000);
  });

  it('has the CLI refuse an oversized reason or name before sending: exit 2, the flag, its size and the limit', async () => {
    const cli = (args: string[]) => runCli([...args, '--address', address]);
    const events = async () => (await handle().fetchHistory()).events?.length;
    const before = await events();
    const reason = await cli(['approve', workflowId, '--as', 'alice', '--reason', 'x'.repeat(100_000)]);
    expect(reason.code).toBe(2);
    expect(reason.stderr).toMatch(/--reason: too long: 100000 characters, the limit is 2000/);
    const as = await cli(['rollout', 'promote', workflowId, '--as', 'a'.repeat(300)]);
    expect(as.code).toBe(2);
    expect(as.stderr).toMatch(/--as: too long: 300 characters, the limit is 200/);
    // Nothing was sent: the run's history did not move, and it still waits.
    expect(await events()).toBe(before);
    expect((await status()).stage).toBe('awaiting-approval');
  });

  it('then completes on a valid approval from the CLI', async () => {
    const approved = await runCli(['approve', workflowId, '--as', 'alice', '--reason', 'after the fuzz', '--address', address]);
    expect(approved.code, approved.stderr).toBe(0);
    const res = (await slipway.result(workflowId)) as ReleaseResult;
    expect(res).toMatchObject({ status: 'completed', approval: { decision: 'approved', by: 'alice', reason: 'after the fuzz' } });
    expect(res.report.audit?.filter((e) => e.counted)).toEqual([expect.objectContaining({ action: 'approve', by: 'alice', via: 'update' })]);
  });
});

/** The events of every run of the release's chain (a long fuzz run may continue as new). */
async function chainEvents(): Promise<proto.temporal.api.history.v1.IHistoryEvent[][]> {
  const runs: proto.temporal.api.history.v1.IHistoryEvent[][] = [];
  for (let runId: string | null | undefined = firstRunId; runId; ) {
    const events: proto.temporal.api.history.v1.IHistoryEvent[] = (await slipway.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    runs.push(events);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return runs;
}
