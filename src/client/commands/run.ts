import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { FINAL_STAGES } from '../../workflows/status.js';
import { EXIT } from '../errors.js';
import { EtaTracker, LiveScreen, liveLines, plainKey, plainLine } from '../live-view.js';
import { formatRelease, isTty, printJson, printLines } from '../output.js';
import type { ReleaseView, SlipwayClient } from '../slipway-client.js';
import { defaultRelease, loadSpec, type LoadedSpec } from '../spec-file.js';
import { connectionOptions, queueOptions, withClient, type ConnectionFlags, type QueueFlags } from './common.js';

interface RunFlags extends ConnectionFlags, QueueFlags {
  release?: string;
  wait?: boolean;
  /** false with --no-cache */
  cache?: boolean;
  /** Who starts it (default: currentUser()). */
  as?: string;
}

/** Starts or attaches to the release of an already validated spec. */
export async function runRelease(client: SlipwayClient, loaded: LoadedSpec, flags: RunFlags) {
  let release = flags.release;
  if (flags.cache === false) {
    // Train and evaluate afresh; the spec in the run's history says so. The default label names the
    // spec and code, which did not change: a fresh run needs a label of its own.
    release ??= `${defaultRelease(loaded)}-fresh-${Date.now().toString(36)}`;
    loaded = { ...loaded, spec: { ...loaded.spec, train: { ...loaded.spec.train, cache: false }, evaluate: { ...loaded.spec.evaluate, cache: false } } };
  }
  const started = await client.start(loaded, { release, startedBy: flags.as });
  return { ...started, spec: loaded.file, codeVersion: loaded.codeVersion };
}

/**
 * Follows a release until it ends and returns the final view. On a TTY it redraws a live block in
 * place (stage timeline, training and evaluation progress with ETA); elsewhere it prints a plain
 * line per stage change or tenth of training.
 */
export async function watchRelease(
  client: SlipwayClient,
  workflowId: string,
  print: boolean,
  onView?: (view: ReleaseView) => Promise<void>,
): Promise<ReleaseView> {
  let last = '';
  const screen = new LiveScreen(process.stdout);
  const eta = new EtaTracker();
  for (;;) {
    const view = await client.status(workflowId);
    await onView?.(view);
    if (print && isTty) screen.draw(liveLines(view, Date.now(), eta));
    else if (print && plainKey(view) !== last) {
      process.stdout.write(`${plainLine(view)}\n`);
      last = plainKey(view);
    }
    if (view.execution.status !== 'RUNNING' || FINAL_STAGES.has(view.stage)) {
      return view.execution.status === 'RUNNING' ? waitClosed(client, workflowId) : view;
    }
    await sleep(1000);
  }
}

async function waitClosed(client: SlipwayClient, workflowId: string): Promise<ReleaseView> {
  try {
    await client.result(workflowId);
  } catch {
    // The failure is in the status; the caller reports it.
  }
  return client.status(workflowId);
}

export function exitCodeFor(view: ReleaseView): number {
  return view.stage === 'completed' ? EXIT.ok : EXIT.failed;
}

export function registerRunCommand(program: Command): void {
  connectionOptions(
    queueOptions(program
      .command('run')
      .description('validate a pipeline spec and start its release (a second start of the same release attaches to it)')
      .argument('<spec>', 'pipeline spec, YAML or JSON')
      .option('--release <label>', 'release label; the workflow id is release:<model>:<label> (default: digest of spec + code version)')
      .option('--wait', 'follow the release until it ends, with live stage and training progress')
      .option('--no-cache', 'train and evaluate afresh instead of reusing cached results of identical inputs')
      .option('--as <name>', 'who starts it, recorded in the run (approval.separate_duties keeps them from approving it); default SLIPWAY_USER, GITHUB_ACTOR or your login')
      .option('--json', 'print JSON')),
  )
    .addHelpText('after', '\nExample:\n  $ slipway run examples/tiny-llm/pipeline.yaml --wait\n  $ slipway run pipeline.yaml --release v3 --json')
    .action(async (spec: string, flags: RunFlags) => {
      // Validate before connecting: a bad spec is reported as such, and nothing starts.
      const loaded = loadSpec(spec);
      await withClient(flags, async (client) => {
        const started = await runRelease(client, loaded, flags);
        if (!flags.json) {
          const what = !started.attached ? 'started' : started.status === 'RUNNING' ? 'attached to running' : `already ${started.status.toLowerCase()} (use --release for a new release):`;
          printLines([`${what} ${started.workflowId}`, `follow: slipway status ${started.workflowId}`]);
        }
        if (!flags.wait) {
          if (flags.json) printJson(started);
          return;
        }
        const view = await watchRelease(client, started.workflowId, !flags.json);
        if (flags.json) printJson({ ...started, result: view });
        else printLines(formatRelease(view));
        process.exitCode = exitCodeFor(view);
      });
    });
}
