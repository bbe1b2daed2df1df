import { log } from '@temporalio/activity';
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

/**
 * Posts a Slack-compatible message to the webhook named by `webhookEnv`. A failing webhook is
 * logged and reported, never thrown: notifications must not fail a release.
 */
export function createNotifyActivities(env: NodeJS.ProcessEnv) {
  return {
    async notify(input: NotifyInput): Promise<NotifyResult> {
      const url = env[input.webhookEnv];
      if (!url) return { delivered: false, reason: `${input.webhookEnv} is not set on the worker` };
      const fields = Object.entries(input.fields ?? {}).map(([title, value]) => ({ type: 'mrkdwn', text: `*${title}*\n${value}` }));
      const body = {
        text: input.text,
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: input.text } }, ...(fields.length ? [{ type: 'section', fields }] : [])],
        slipway: { event: input.event, pipeline: input.pipeline, workflowId: input.workflowId, fields: input.fields ?? {} },
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
