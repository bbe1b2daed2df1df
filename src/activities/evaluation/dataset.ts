// Reads an evaluation dataset (JSONL) and compiles every row before the first request is sent:
// a malformed row fails the whole run at once, naming its file and line.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { compileScorer, ScorerSpecSchema, type Scorer } from '../../quality/scorers.js';
import { DatasetError } from './errors.js';

const Message = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() }).strict();

const RowSchema = z
  .object({
    id: z.union([z.string(), z.number()]).optional(),
    prompt: z.string().min(1).optional(),
    messages: z.array(Message).min(1).optional(),
    expected: z.unknown().optional(),
    scorer: ScorerSpecSchema.optional(),
    max_tokens: z.number().int().positive().optional(),
  })
  .strict()
  .refine((r) => (r.prompt === undefined) !== (r.messages === undefined), { message: 'give exactly one of "prompt" or "messages"' })
  .refine((r) => r.expected !== undefined, { message: 'missing "expected"' })
  .refine((r) => r.messages === undefined || r.messages.some((m) => m.role === 'user'), { message: 'needs a user message', path: ['messages'] });

export interface DatasetRow {
  /** 1-based line in the file. */
  line: number;
  id?: string | number;
  messages: Array<{ role: string; content: string }>;
  expected: unknown;
  maxTokens?: number;
  score: Scorer;
}

export interface Dataset {
  rows: DatasetRow[];
  /** `sha256:<hex>` of the file's bytes. */
  digest: string;
}

/**
 * The chat-completions request for a row, greedy (temperature 0). One object shape for every row
 * (JSON.stringify drops the undefined fields), which keeps it cheap at tens of thousands a second.
 */
export function chatRequestBody(row: DatasetRow, model: string | undefined, stream = false): string {
  return JSON.stringify({ model, messages: row.messages, temperature: 0, max_tokens: row.maxTokens, stream: stream || undefined });
}

/** Reads and validates a JSONL dataset; blank lines are skipped. Throws DatasetError on the first bad row. */
export async function loadDataset(file: string): Promise<Dataset> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new DatasetError(file, 0, `cannot read the dataset (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const rows: DatasetRow[] = [];
  const lines = bytes.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]?.trim();
    if (text) rows.push(parseRow(file, i + 1, text));
  }
  if (rows.length === 0) throw new DatasetError(file, 0, 'the dataset has no rows');
  return { rows, digest };
}

function parseRow(file: string, line: number, text: string): DatasetRow {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DatasetError(file, line, `invalid JSON (${(err as Error).message})`);
  }
  const parsed = RowSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new DatasetError(file, line, `${where}${issue?.message.replace(/^Invalid input: /, '') ?? 'invalid row'}`);
  }
  const row = parsed.data;
  let score: Scorer;
  try {
    score = compileScorer(row.scorer, row.expected);
  } catch (err) {
    throw new DatasetError(file, line, (err as Error).message);
  }
  return {
    line,
    id: row.id,
    messages: row.messages ?? [{ role: 'user', content: row.prompt as string }],
    expected: row.expected,
    maxTokens: row.max_tokens,
    score,
  };
}
