// The pipeline spec: one YAML/JSON file per pipeline, validated before anything starts.
// Pure (no I/O), so the workflow can re-read defaults from the same schema.
import { z } from 'zod';
import { parsePublicKey } from '../approvals/sshsig.js';
import { SpecGatesSchema } from '../quality/gate.js';
import { RolloutSection } from '../rollout/spec.js';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
/** Temporal-style durations: `30s`, `10m`, `2h`, `3d`, `500ms`. */
export const Duration = z.string().regex(DURATION, 'expected a duration such as 30s, 10m, 2h or 3d');
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses the spec's duration strings (already validated by the schema). */
export function durationMs(d: string): number {
  const m = DURATION.exec(d);
  if (!m) throw new Error(`invalid duration ${d}`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

const Name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'expected lowercase letters, digits, ".", "_" or "-" (max 63 chars)');
/** A registered implementation's name (`local`, `slurm`, `ray`, ...). */
const ImplName = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'expected the name of a registered implementation, such as local');
const Command = z.array(z.string().min(1)).min(1, 'expected a command as a list, e.g. ["python", "train.py"]');

export const DEFAULT_SMOKE_CASES = [
  { prompt: 'Hello', max_tokens: 50 },
  { prompt: '什么是机器学习?', max_tokens: 100 },
  { prompt: 'Write a function to sort a list', max_tokens: 200 },
];

const MEMORY = /^(\d+(?:\.\d+)?)(Mi|Gi|Ti)$/;
const MEMORY_MIB: Record<string, number> = { Mi: 1, Gi: 1024, Ti: 1024 * 1024 };
/** Memory sizes as Kubernetes writes them: `512Mi`, `4Gi`, `1Ti`. */
const Memory = z.string().regex(MEMORY, 'expected a memory size such as 512Mi, 4Gi or 1Ti');

/** A memory size from the spec (already validated) in MiB, rounded up. */
export function memoryMiB(size: string): number {
  const m = MEMORY.exec(size);
  if (!m) throw new Error(`invalid memory size ${size}`);
  return Math.ceil(Number(m[1]) * (MEMORY_MIB[m[2] as string] as number));
}

/** What a training job asks the cluster for; each backend maps it to its own terms. */
const Resources = z
  .object({
    gpus: z.number().int('expected a whole number of GPUs').min(0, 'expected 0 or more GPUs').optional(),
    cpus: z.number().positive('expected more than 0 CPUs').optional(),
    memory: Memory.optional(),
    /** Slurm partition (other backends ignore it). */
    partition: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected a partition name (letters, digits, "_", "." or "-")').optional(),
  })
  .strict();

const Train = z
  .object({
    /** The JobBackend that runs the job, by the name a worker registered it under. */
    backend: ImplName.default('local'),
    /** The job's command; it reports progress as JSON lines (see README: job protocol). */
    command: Command,
    /** Working directory, relative to the spec file. */
    cwd: z.string().default('.'),
    /** Input files hashed into the cache key, relative to cwd. */
    data: z.array(z.string()).default([]),
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    env: z.record(z.string(), z.string()).default({}),
    /** Longest run of the job; on a cluster it starts when the job runs, not when it is queued. */
    timeout: Duration.default('6h'),
    /** Longest wait in a cluster's queue before the job runs (cluster backends). */
    queue_timeout: Duration.default('24h'),
    heartbeat_timeout: Duration.default('2m'),
    resources: Resources.optional(),
    /** Reuse the artifact of an identical earlier training run (same command, data, params, code). */
    cache: z.boolean().default(true),
  })
  .strict();

const Serve = z
  .object({
    /** Starts a model server; `{model}` and `{port}` are substituted. */
    command: Command,
    cwd: z.string().default('.'),
    health_path: z.string().default('/health'),
    startup_timeout: Duration.default('2m'),
  })
  .strict();

const Variant = z.object({ name: Name, params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}) }).strict();

const Evaluate = z
  .object({
    dataset: z.string(),
    concurrency: z.number().int().min(1).max(256).default(8),
    request_timeout_ms: z.number().int().positive().default(30_000),
    max_retries: z.number().int().min(0).max(10).default(3),
    /** Candidate variants trained and evaluated in parallel; the best one that passes the gate wins. */
    variants: z.array(Variant).default([]),
    /** How many variants run at once (the number of GPUs). */
    max_parallel: z.number().int().min(1).default(1),
    /** Reuse the summary of an identical earlier evaluation (same model, dataset, settings, serving code). */
    cache: z.boolean().default(true),
    /** Ask for streamed answers and measure time to first token and inter-token latency (gates.max_ttft_ms). */
    stream: z.boolean().default(false),
    /**
     * Where each variant's evaluation server runs: `serving` (the serving role's deploy target) or
     * `cluster` (a job of train.backend, with train.resources, stopped right after its evaluation).
     */
    serve_on: z.enum(['serving', 'cluster']).default('serving'),
  })
  .strict();

const Approval = z
  .object({
    required: z.boolean().default(true),
    approvers: z.array(z.string().min(1)).min(1, 'list at least one approver'),
    timeout: Duration.default('3d'),
    on_timeout: z.enum(['reject', 'escalate']).default('reject'),
    /** Who may decide after an escalation; the wait restarts for `timeout` once. */
    escalate_to: z.array(z.string().min(1)).default([]),
    /** Decisions must be signed with a listed key (default: true when `signers` or `signers_file` is set). */
    require_signature: z.boolean().optional(),
    /** How many distinct approvers must approve (a quorum); one rejection rejects. */
    min_approvals: z.number().int().min(1).default(1),
    /** The person who started or triggered the release may not approve it. */
    separate_duties: z.boolean().default(false),
    /** A signed decision older (or newer) than this, by the workflow's clock, is refused as stale. */
    signature_max_age: Duration.default('10m'),
    /**
     * Keep the winning candidate's model server running while the release waits for a decision
     * (a faster deploy, at the price of a server and its GPU per waiting release). Default: it stops
     * after evaluation and starts again from its artifact at deploy.
     */
    keep_candidate_warm: z.boolean().default(false),
  })
  .strict()
  .refine((a) => a.on_timeout !== 'escalate' || a.escalate_to.length > 0, {
    message: 'on_timeout: escalate needs escalate_to approvers',
    path: ['escalate_to'],
  })
  .refine((a) => a.min_approvals <= new Set(a.approvers).size, {
    message: 'min_approvals is more than the number of distinct approvers listed',
    path: ['min_approvals'],
  });

const SshKey = z.string().refine(
  (k) => {
    try {
      parsePublicKey(k);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected an ed25519 public key, "ssh-ed25519 AAAA..." (e.g. the line in ~/.ssh/id_ed25519.pub)' },
);

const Deploy = z
  .object({
    /** The DeployTarget that serves versions, by the name a worker registered it under. */
    target: ImplName.default('local'),
    /** The stable endpoint's port: it always points at the live version. */
    port: z.number().int().min(1).max(65535).default(8000),
  })
  .strict();

const Smoke = z
  .object({
    cases: z.array(z.object({ prompt: z.string().min(1), max_tokens: z.number().int().positive() }).strict()).min(1).default(DEFAULT_SMOKE_CASES),
    timeout_ms: z.number().int().positive().default(30_000),
  })
  .strict();

const Monitor = z
  .object({
    duration: Duration.default('10m'),
    interval: Duration.default('30s'),
    max_error_rate: z.number().min(0).max(1).default(0.05),
    max_latency_p99_ms: z.number().positive().default(1000),
    breaches_to_rollback: z.number().int().min(1).default(3),
  })
  .strict();

const Notify = z
  .object({
    /** Name of the env var (read by the worker) that holds the webhook URL: never the URL itself. */
    webhook_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name').default('SLIPWAY_WEBHOOK_URL'),
  })
  .strict();

const Mlflow = z
  .object({
    enabled: z.boolean().default(true),
    experiment: z.string().min(1).optional(),
    /** How long the pipeline waits for an unreachable MLflow before failing. */
    max_unavailable: Duration.default('30m'),
  })
  .strict();

/** Nightly runs (`slipway schedule create`): the Temporal Schedule's policies. */
export const ScheduleSection = z
  .object({
    /** What a run due while the previous one still runs does (Temporal's overlap policy). */
    // Default: `skip`, or `allow_all` when the spec requires approval, so that a release waiting
    // days for a human does not make every later nightly skip (the newer one supersedes it).
    overlap: z.enum(['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all']).optional(),
    /** How late a run missed during an outage may still start. */
    catchup_window: Duration.default('1h'),
    /** A failed run pauses the schedule until someone looks (`slipway schedule unpause`). */
    pause_on_failure: z.boolean().default(true),
  })
  .strict();

const Check = z.object({ name: Name, command: Command, cwd: z.string().default('.') }).strict();

/** Layered CI (`slipway trigger`): globs relative to the spec's directory. */
export const CiSection = z
  .object({
    /** A change here runs the light checks only. */
    code: z.array(z.string().min(1)).default([]),
    /** A change here (training data, eval sets) runs the full pipeline. */
    data: z.array(z.string().min(1)).default([]),
    /** A change here (model code, training config) runs the full pipeline. */
    model: z.array(z.string().min(1)).default([]),
    checks: z.array(Check).default([]),
  })
  .strict();

export const PipelineSpecSchema = z
  .object({
    name: Name,
    model: z.object({ name: Name, description: z.string().optional() }).strict(),
    train: Train,
    serve: Serve,
    evaluate: Evaluate,
    gates: SpecGatesSchema.default(SpecGatesSchema.parse({})),
    approval: Approval.optional(),
    deploy: Deploy.default(Deploy.parse({})),
    /** How a new version takes traffic: all at once (default) or a canary in steps. */
    rollout: RolloutSection.default(RolloutSection.parse({})),
    smoke: Smoke.default(Smoke.parse({})),
    monitor: Monitor.default(Monitor.parse({})),
    notify: Notify.optional(),
    /** Who may order a rollback, besides the approvers. */
    operators: z.array(z.string().min(1)).default([]),
    /** Public keys of approvers and operators, by name: their decisions are signed with them. */
    signers: z.record(z.string().min(1), z.union([SshKey, z.array(SshKey).min(1)])).default({}),
    /** An allowed_signers-style file (relative to the spec) that the CLI reads into `signers` before starting. */
    signers_file: z.string().min(1).optional(),
    mlflow: Mlflow.default(Mlflow.parse({})),
    schedule: ScheduleSection.optional(),
    ci: CiSection.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.gates.max_ttft_ms !== undefined && !spec.evaluate.stream) {
      ctx.addIssue({ code: 'custom', path: ['evaluate', 'stream'], message: 'gates.max_ttft_ms needs streamed answers: set evaluate.stream: true' });
    }
    if (spec.evaluate.serve_on === 'cluster' && spec.train.backend === 'local') {
      ctx.addIssue({ code: 'custom', path: ['evaluate', 'serve_on'], message: 'cluster runs each evaluation server as a job of train.backend: set train.backend to a cluster backend (ray, slurm), or serve_on: serving' });
    }
  });

export type PipelineSpec = z.infer<typeof PipelineSpecSchema>;
export type PipelineSpecInput = z.input<typeof PipelineSpecSchema>;

/**
 * A spec that an earlier release recorded (the next run of a monitor chain, a later rollback):
 * checked like a new one, except that unknown `gates` keys — let through before they were refused,
 * and ignored then — are dropped instead of failing a release that is already live.
 */
export function parseRecordedSpec(raw: unknown): ReturnType<typeof PipelineSpecSchema.safeParse> {
  const parsed = PipelineSpecSchema.safeParse(raw);
  if (parsed.success) return parsed;
  const unknownGateKeys = parsed.error.issues.every((i) => i.code === 'custom' && i.path.length === 2 && i.path[0] === 'gates');
  if (!unknownGateKeys) return parsed;
  const copy = JSON.parse(JSON.stringify(raw)) as { gates: Record<string, unknown> };
  for (const issue of parsed.error.issues) delete copy.gates[String(issue.path[1])];
  return PipelineSpecSchema.safeParse(copy);
}

/** One line per problem: `gates.min_accuracy: expected number <= 1`. */
export function formatSpecIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${formatIssuePath(i.path)}: ${i.message}`);
}

/** `evaluate.variants.0.name`; a key that is not a plain name is quoted (`gates." "`), so every path reads unambiguously. */
export function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(spec)';
  return path.map((k) => (typeof k === 'number' || /^[A-Za-z0-9_-]+$/.test(String(k)) ? String(k) : JSON.stringify(String(k)))).join('.');
}
