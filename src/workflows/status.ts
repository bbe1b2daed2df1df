// The pipeline's status: what the `status` query returns, what continue-as-new carries over, and
// the value of the SlipwayStage search attribute.
import type { ArtifactRef } from '../activities/artifacts/store.js';
import type { GateReport } from '../quality/gate.js';
import type { MetricRun } from '../rollout/analysis.js';

export const STAGES = [
  'starting',
  'training',
  'evaluating',
  'gating',
  'awaiting-approval',
  'deploying',
  'canary',
  'smoke-testing',
  'monitoring',
  'completed',
  'gate-failed',
  'rejected',
  'superseded',
  'rolled-back',
  'aborted',
  'failed',
  'cancelled',
] as const;
export type Stage = (typeof STAGES)[number];

export interface StageTiming {
  stage: Stage;
  startedAt: string;
  endedAt?: string;
}

export interface VariantStatus {
  name: string;
  stage: 'pending' | 'training' | 'serving' | 'evaluating' | 'done' | 'failed';
  params: Record<string, string | number | boolean>;
  /** On the GPU host that trained it (for people reading the status). */
  artifactPath?: string;
  artifactDigest?: string;
  /** In the artifact store: how other hosts reach it. */
  artifact?: ArtifactRef;
  cachedTraining?: boolean;
  resumedFromStep?: number | null;
  finalLoss?: number | null;
  endpoint?: string;
  metrics?: Record<string, number>;
  resultsPath?: string;
  gate?: GateReport;
  error?: string;
}

export interface Decision {
  /** `superseded`: a newer release of the pipeline passed its gate while this one waited. */
  decision: 'approved' | 'rejected' | 'superseded';
  /** One name, or the quorum's names joined by ", ". */
  by: string;
  at: string;
  reason: string;
  /** Every counted vote was signed with a listed key (absent in runs recorded before signing). */
  signed?: boolean;
}

/** One approval that counted toward the quorum. */
export interface Vote {
  by: string;
  at: string;
  reason: string;
  signed: boolean;
  /** `SHA256:...` of the key that signed it. */
  fingerprint?: string;
}

export interface ApprovalStatus {
  approvers: string[];
  deadline?: string;
  escalated: boolean;
  decision?: Decision;
  /** Decisions that did not count (not an approver, too late, a bad signature), kept for the audit trail. */
  refused: Array<{ by: string; at: string; reason: string; signed?: boolean; fingerprint?: string }>;
  /** Distinct approvals needed (approval.min_approvals). */
  minApprovals?: number;
  /** Approvals counted so far. */
  votes?: Vote[];
  /** Approvers who could still approve while the quorum is not met. */
  stillNeeded?: { count: number; from: string[] };
  requireSignature?: boolean;
  /** Times the wait continued as new (its history grew past the bound, or Temporal suggested it). */
  continuedAsNew?: number;
}

/** Every decision, refusal and rollback order, as it arrived: the release's audit trail. */
export interface AuditEntry {
  action: 'approve' | 'reject' | 'rollback' | 'supersede' | 'timeout';
  by: string;
  at: string;
  reason: string;
  counted: boolean;
  /** Why it did not count. */
  refusal?: string;
  signed: boolean;
  fingerprint?: string;
  /** Of a counted signed decision: a second use is a replay. */
  nonce?: string;
  /** How it arrived: `update` (CLI), `signal` (UI), or `workflow` (the pipeline itself). */
  via: 'update' | 'signal' | 'workflow';
}

export interface RollbackRecord {
  by: string;
  at: string;
  reason: string;
  automatic: boolean;
  restoredVersion: string | null;
}

export interface MonitorStatus {
  elapsedMs: number;
  durationMs: number;
  samples: number;
  breaches: number;
  consecutiveBreaches: number;
  lastWindow?: { requests: number; errorRate: number; latencyP99Ms: number | null; healthy: boolean; reason?: string };
  continuedAsNew: number;
}

/** One analysis: at a step (its index) or the bake after the last step, with every metric's measurements. */
export interface AnalysisRun {
  step: number | 'bake';
  phase: 'running' | 'successful' | 'failed' | 'inconclusive' | 'skipped';
  startedAt: string;
  endedAt?: string;
  message?: string;
  metrics: MetricRun[];
}

/** A canary rollout: where it is, its weights, every analysis, and who did what. */
export interface RolloutStatus {
  strategy: 'canary';
  canaryVersion: string;
  stableVersion: string | null;
  phase: 'progressing' | 'paused' | 'promoting' | 'completed' | 'aborted' | 'skipped';
  /** Index of the current step in rollout.steps. */
  step: number;
  steps: number;
  /** The canary's share of traffic (percent). */
  weight: number;
  pause?: { reason: string; since: string };
  analysisRuns: AnalysisRun[];
  /** The people's orders, newest last: the last 200. */
  controls: Array<{ action: string; by: string; at: string; reason?: string }>;
  /** How many orders were taken in all (absent in runs recorded before it). */
  controlCount?: number;
  abort?: { by: string; reason: string; at: string };
  note?: string;
  /** How many times a long pause continued as new (absent until the first). */
  continuedAsNew?: number;
}

export interface PipelineStatus {
  workflowId: string;
  pipeline: string;
  model: string;
  release: string;
  stage: Stage;
  stages: StageTiming[];
  variants: VariantStatus[];
  selectedVariant?: string;
  metrics?: Record<string, number>;
  champion?: { version: string; metrics: Record<string, number> } | null;
  gate?: GateReport;
  approval?: ApprovalStatus;
  deployment?: { version: string; endpoint: string; previousVersion: string | null; modelVersion?: string; previousModelVersion?: string | null };
  smoke?: { passed: boolean; failure?: string };
  rollout?: RolloutStatus;
  monitor?: MonitorStatus;
  rollback?: RollbackRecord;
  mlflow?: { experimentId: string; runId: string };
  /** Who started or triggered the release (the CLI's --as / SLIPWAY_USER, or a schedule's creator). */
  startedBy?: string;
  /** Decisions, refusals and rollback orders (absent in runs recorded before it). */
  audit?: AuditEntry[];
  /** Signals refused (a bad or oversized payload, an unknown name, a refused order): the last 50, never fatal. */
  invalidMessages: Array<{ name: string; at: string; error: string }>;
  /** How many were refused in all (absent in runs recorded before it, and until the first). */
  invalidMessageCount?: number;
  error?: string;
}

/** Stages after which the run is over. */
export const FINAL_STAGES: ReadonlySet<Stage> = new Set(['completed', 'gate-failed', 'rejected', 'superseded', 'rolled-back', 'aborted', 'failed', 'cancelled']);
