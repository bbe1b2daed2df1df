// Size limits of the release's messages (signals, updates): the workflow keeps what a message says in
// its status, which is the query answer and what continue-as-new carries, so nothing in it may grow
// without bound. Shared with the CLI, which refuses oversized input before sending anything.
import { z } from 'zod';

/** A reason given with a decision or an order. */
export const MAX_REASON_CHARS = 2000;
/** Who decides or orders: a person's or a release's name. */
export const MAX_NAME_CHARS = 200;
/** A whole message as JSON: the largest valid one (a signed decision) is under 8,000 characters. */
export const MAX_MESSAGE_CHARS = 16 * 1024;
/** What the status keeps of a refused message's name and error. */
const MAX_RECORDED_CHARS = 300;

/** A string of at most `max` characters; when longer, the error says how long it is and the limit. */
export function cappedString(max: number): z.ZodString {
  return z.string().max(max, { error: (issue) => `too long: ${typeof issue.input === 'string' ? issue.input.length : '?'} characters, the limit is ${max}` });
}

/**
 * Why a message is refused for its size alone, before it is parsed: only its size is kept, never
 * its content. Measured as its JSON (deterministic in the workflow sandbox).
 */
export function oversizeRefusal(raw: unknown): string | undefined {
  const chars = JSON.stringify(raw)?.length ?? 0;
  if (chars <= MAX_MESSAGE_CHARS) return undefined;
  return `message too large: ${chars} characters as JSON, the limit is ${MAX_MESSAGE_CHARS}; its content was not kept`;
}

/** A short form of text from a message (a name, an error listing its keys) for the status. */
export function clip(text: string, max = MAX_RECORDED_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/** A zod error as `field: rule` pairs, short enough for the status whatever the payload held. */
export function describeIssues(error: z.ZodError): string {
  const issues = error.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`);
  if (error.issues.length > 5) issues.push(`and ${error.issues.length - 5} more`);
  return clip(issues.join('; '));
}
