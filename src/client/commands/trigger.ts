import type { Command } from 'commander';
import type { ReleaseResult } from '../../workflows/release-pipeline.js';
import { connectClient } from '../connection.js';
import { EXIT, ExitError } from '../errors.js';
import { dim, printJson, printLines } from '../output.js';
import { loadSpec } from '../spec-file.js';
import { changeFromFiles, changeFromGitRange, classify, startForDecision, type ChangeSet, type Decision, type StartedRun } from '../trigger.js';
import { connectionOptions, queueOptions, queuesFrom, type ConnectionFlags, type QueueFlags } from './common.js';

interface TriggerFlags extends ConnectionFlags, QueueFlags {
  spec: string;
  changed?: string[];
  gitRange?: string;
  wait?: boolean;
}

export interface TriggerOutcome {
  change: ChangeSet;
  decision: Decision;
  started: StartedRun[];
  /** With --wait: each started run's final status. */
  results?: Array<{ workflowId: string; status: string; error?: string }>;
}

/** Classifies the change and starts what it needs; nothing starts for a change no rule matches. */
export async function triggerForChange(flags: TriggerFlags): Promise<TriggerOutcome> {
  if (Boolean(flags.changed?.length) === Boolean(flags.gitRange)) throw new ExitError('give exactly one of --changed <files...> or --git-range A..B', EXIT.usage);
  const loaded = loadSpec(flags.spec);
  let change: ChangeSet;
  try {
    change = flags.gitRange ? changeFromGitRange(loaded, flags.gitRange) : changeFromFiles(loaded, flags.changed ?? []);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new ExitError(`--git-range ${flags.gitRange}: ${stderr || (err as Error).message}`, EXIT.usage);
  }
  const decision = classify(loaded, change.files);
  if (!decision.checks && !decision.pipeline) return { change, decision, started: [] };
  const client = await connectClient(flags);
  try {
    const started = await startForDecision(client, loaded, change, decision, { queues: queuesFrom(flags) });
    if (!flags.wait) return { change, decision, started };
    const results = await Promise.all(
      started.map(async (s) => {
        try {
          await client.workflow.getHandle(s.workflowId).result();
        } catch (err) {
          const cause = (err as { cause?: Error }).cause;
          return { workflowId: s.workflowId, status: 'FAILED', error: cause?.message ?? (err as Error).message };
        }
        const handle = client.workflow.getHandle(s.workflowId);
        // A release that ended rejected, superseded or rolled back completed its workflow, but did not pass.
        const outcome = s.kind === 'releasePipeline' ? ((await handle.result()) as ReleaseResult).status : undefined;
        if (outcome && outcome !== 'completed') return { workflowId: s.workflowId, status: 'NOT_RELEASED', error: `the release ended ${outcome}` };
        return { workflowId: s.workflowId, status: (await handle.describe()).status.name };
      }),
    );
    return { change, decision, started, results };
  } finally {
    await client.connection.close();
  }
}

function format(o: TriggerOutcome): string[] {
  const lines = [`decision: ${o.decision.summary}`];
  for (const m of o.decision.matches) lines.push(dim(`  ${m.kind.padEnd(5)} ${m.file}  (${m.glob})`));
  for (const f of o.decision.unmatched) lines.push(dim(`  none  ${f}`));
  for (const s of o.started) lines.push(s.existing ? `${s.kind}: ${s.workflowId} already ran for this change (${s.status?.toLowerCase()}); not started again` : `started ${s.kind}: ${s.workflowId}`);
  for (const r of o.results ?? []) lines.push(`${r.workflowId}: ${r.status.toLowerCase()}${r.error ? ` (${r.error})` : ''}`);
  return lines;
}

export function registerTriggerCommand(program: Command): void {
  connectionOptions(
    queueOptions(program
      .command('trigger')
      .description("layered CI: a code change runs the spec's light checks; a data or model change runs the full pipeline")
      .requiredOption('--spec <file>', 'pipeline spec with a `ci:` section (globs relative to the spec file)')
      .option('--changed <files...>', 'changed files, relative to the root of the git repository (as `git diff --name-only` prints them), or to the current directory outside one')
      .option('--git-range <A..B>', "changed files of a git range in the spec's repository")
      .option('--wait', 'wait for the started runs; exit 1 if any fails')
      .option('--json', 'print JSON')),
  )
    .addHelpText('after', '\nExample:\n  $ slipway trigger --spec pipeline.yaml --git-range origin/main..HEAD\n  $ slipway trigger --spec pipeline.yaml --changed src/app.ts data/train.jsonl --json')
    .action(async (flags: TriggerFlags) => {
      const outcome = await triggerForChange(flags);
      if (flags.json) printJson(outcome);
      else printLines(format(outcome));
      if (outcome.results?.some((r) => r.status !== 'COMPLETED')) process.exitCode = EXIT.failed;
    });
}
