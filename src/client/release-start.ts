// The one place a release start is built — `slipway run`, schedules, `slipway trigger` and the demo
// all start releases the same way: id, input, queues, policies, memo and search attributes.
import { DEFAULT_QUEUES, type SlipwayQueues } from '../queues.js';
import type { TriggerInfo } from '../workflows/light-checks.js';
import { STAGE_KEY } from '../workflows/context.js';
import type { ReleaseInput } from '../workflows/release-pipeline.js';
import { currentUser } from './identity.js';
import { releaseWorkflowId, type LoadedSpec } from './spec-file.js';

export interface ReleaseStartOptions {
  /** Release label; empty for scheduled runs, which take the suffix Temporal adds to their id. */
  release: string;
  /** The workflow id's label when it differs from the release (schedules: `scheduled-<name>`). */
  idLabel?: string;
  queues?: Partial<SlipwayQueues>;
  /** Why it started (schedule, CI change), kept in the memo for people reading the run. */
  trigger?: TriggerInfo;
  /** Who starts or triggers it (default: currentUser()); approval.separate_duties keeps them from approving it. */
  startedBy?: string;
}

/** A finished release is never re-run under its id; a failed or cancelled one may be. */
export const RELEASE_ID_POLICIES = { workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY', workflowIdConflictPolicy: 'FAIL' } as const;

/** The workflow id and start options of a release of `loaded` (policies: RELEASE_ID_POLICIES, where the caller may set them). */
export function releaseStart(loaded: LoadedSpec, opts: ReleaseStartOptions) {
  const queues = { ...DEFAULT_QUEUES, ...opts.queues };
  const input: ReleaseInput = {
    spec: loaded.spec,
    specDir: loaded.dir,
    release: opts.release,
    codeVersion: loaded.codeVersion,
    queues: { serving: queues.serving, gpu: queues.gpu },
    startedBy: opts.startedBy ?? currentUser(),
  };
  return {
    workflowType: 'releasePipeline' as const,
    workflowId: releaseWorkflowId(loaded.spec.model.name, opts.idLabel ?? opts.release),
    taskQueue: queues.orchestration,
    args: [input] as [ReleaseInput],
    memo: { specFile: loaded.file, specDigest: loaded.digest, ...(opts.trigger ? { trigger: opts.trigger } : {}) },
    typedSearchAttributes: [{ key: STAGE_KEY, value: 'starting' }],
    // What the Web UI shows above the run's live details (those come from the workflow itself).
    staticSummary: `${loaded.spec.model.name} release ${opts.release || '(scheduled)'}`,
    staticDetails: staticDetails(loaded, opts),
  };
}

/** The release's fixed facts, in markdown: what trains, how it is judged, who approves. */
function staticDetails(loaded: LoadedSpec, opts: ReleaseStartOptions): string {
  const { spec } = loaded;
  const variants = spec.evaluate.variants.length ? spec.evaluate.variants.map((v) => v.name).join(', ') : 'default';
  const g = spec.gates;
  return [
    `**Pipeline** ${spec.name} · **model** ${spec.model.name} · **code** ${loaded.codeVersion}`,
    `**Spec** ${loaded.file}${opts.trigger ? ` · **started by** ${opts.trigger.kind}: ${opts.trigger.reason}` : ''}`,
    `**Training** \`${[...spec.train.command, ...Object.entries(spec.train.params).map(([k, v]) => `--${k} ${v}`)].join(' ')}\``,
    `**Variants** ${variants} · **gate** accuracy ≥ ${g.min_accuracy}, p99 ≤ ${g.max_latency_ms} ms${g.max_regression_vs_champion !== undefined ? `, at most ${g.max_regression_vs_champion} worse than the champion` : ''}`,
    spec.approval?.required ? `**Approvers** ${spec.approval.approvers.join(', ')} (timeout ${spec.approval.timeout}, then ${spec.approval.on_timeout})` : '**Approval** not required',
  ].join('\n\n');
}
