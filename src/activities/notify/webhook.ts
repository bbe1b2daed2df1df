import { activityInfo, log } from '@temporalio/activity';
import { request } from 'undici';

export interface NotifyInput {
  /** What happened: awaiting-approval, approval-reminder, gate-failed, deployed, rolled-back, failed... */
  event: string;
  pipeline: string;
  workflowId: string;
  text: string;
  /** Name of the environment variable that holds the webhook URL (the URL never enters history). */
  webhookEnv: string;
  fields?: Record<string, string>;
}

export interface NotifyResult {
  delivered: boolean;
  reason?: string;
}

/** Where the Temporal Web UI is, as the people who get the message reach it (the dev server's UI by default). */
export const DEFAULT_UI_URL = 'http://127.0.0.1:8233';

/** The Web UI page of a workflow: `<ui>/namespaces/<ns>/workflows/<encoded id>`. */
export function workflowUiUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * Posts a Slack-compatible message to the webhook named by `webhookEnv`. A failing webhook is
 * logged and reported, never thrown: notifications must not fail a release. Each message links to
 * the workflow in the Temporal UI (`SLIPWAY_UI_URL` in the worker's env; the link is built here, so
 * the UI's address never enters history).
 */
export function createNotifyActivities(env: NodeJS.ProcessEnv) {
  return {
    async notify(input: NotifyInput): Promise<NotifyResult> {
      const url = env[input.webhookEnv];
      if (!url) return { delivered: false, reason: `${input.webhookEnv} is not set on the worker` };
      const fields = Object.entries(input.fields ?? {}).map(([title, value]) => ({ type: 'mrkdwn', text: `*${title}*\n${value}` }));
      const uiUrl = workflowUiUrl(env.SLIPWAY_UI_URL || DEFAULT_UI_URL, activityInfo().namespace, input.workflowId);
      const text = `${input.text}\nTemporal UI: ${uiUrl}`;
      const body = {
        text,
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: input.text } },
          ...(fields.length ? [{ type: 'section', fields }] : []),
          { type: 'context', elements: [{ type: 'mrkdwn', text: `<${uiUrl}|Open ${input.workflowId} in the Temporal UI>` }] },
        ],
        slipway: { event: input.event, pipeline: input.pipeline, workflowId: input.workflowId, uiUrl, fields: input.fields ?? {} },
      };
      try {
        const res = await request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        await res.body.dump();
        if (res.statusCode >= 300) return failed(input, `webhook answered HTTP ${res.statusCode}`);
        return { delivered: true };
      } catch (err) {
        return failed(input, err instanceof Error ? err.message : String(err));
      }
    },
  };
}

function failed(input: NotifyInput, reason: string): NotifyResult {
  log.warn('notification not delivered', { event: input.event, workflowId: input.workflowId, reason });
  return { delivered: false, reason };
}
