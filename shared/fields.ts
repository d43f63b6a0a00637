import { z } from 'zod';
import { inputBounds } from './limits';

/**
 * The fields of each update type, shared by the mutation inputs (where they sit
 * under `data`) and the events (where they sit flat beside the topic id).
 */
const text = (max: number = inputBounds.textChars) => z.string().min(1).max(max);

/** Any JSON value, spelled out so declaration bundles can name it (zod's own type is internal to zod). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
const jsonValueSchema: z.ZodType<JsonValue> = z.json();

export const jsonObjectSchema = z.record(z.string(), jsonValueSchema);

export const investigationStatusSchema = z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']);
export const reportStatusSchema = z.enum(['queued', 'generating', 'ready', 'failed']);
export const analysisStatusSchema = z.enum(['pending', 'running', 'completed', 'failed']);
export const severitySchema = z.enum(['low', 'medium', 'high', 'critical']);
export const notificationLevelSchema = z.enum(['info', 'warning', 'critical']);
export const chatRoleSchema = z.enum(['user', 'assistant', 'system']);

const percent = z.number().min(0).max(100);

/**
 * When the source saw the change, in an update's input: a `Date` (in-process and
 * tRPC clients) or an ISO-8601 string (JSON clients). A string without an offset
 * (Python's `datetime.utcnow().isoformat()`) is taken as UTC. Always a `Date` after parsing.
 */
export const sourceTimestampInputSchema = z.union(
  [
    z.date({ error: 'must be a valid date' }),
    z.iso
      .datetime({ offset: true, local: true, error: 'must be an ISO-8601 date-time, e.g. 2026-11-28T10:00:00Z' })
      .transform((iso) => new Date(/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(iso) ? iso : `${iso}Z`)),
  ],
  { error: 'must be a Date or an ISO-8601 date-time string, e.g. 2026-11-28T10:00:00Z' },
);

/** `timestamp?` in an update's input data (investigation and analysis updates, anomalies). */
export const sourceTimestampInput = { timestamp: sourceTimestampInputSchema.optional() } as const;
/** The same field in the event's data: always a `Date` (an ISO-8601 string in the JSON dialect). */
export const sourceTimestamp = { timestamp: z.date().optional() } as const;

/**
 * What a notification or a report links to: an http(s) URL, or a path on the frontend's
 * own site (`/investigations/inv-1`), which the frontend resolves against its
 * origin. Frontends render it as a link, so nothing a browser would read as
 * another scheme (`javascript:`, `data:`) or another host (`//host`, `/\host`)
 * is accepted, and no whitespace or control character (browsers drop some of
 * them, which could turn `/` + tab + `/host` into `//host`).
 */
const linkShape = /^(?:https?:\/\/[^\s/\\?#]|\/(?![/\\]))[^\s\\]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused.
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;
const linkError = 'must be an http(s) URL or a path starting with a single / (e.g. /investigations/inv-1)';
const linkSchema = z
  .string()
  .max(inputBounds.urlChars)
  .regex(linkShape, { error: linkError })
  .refine((link) => !controlCharacter.test(link) && (link.startsWith('/') || URL.canParse(link)), { error: linkError })
  .describe("an http(s) URL, or a path on the frontend's own site starting with a single / (e.g. /investigations/inv-1)");

export const investigationUpdateFields = {
  status: { status: investigationStatusSchema, message: text().optional() },
  progress: { progress: percent, stage: text(inputBounds.shortTextChars).optional() },
  agent_finding: {
    agent: text(inputBounds.shortTextChars),
    finding: text(),
    details: jsonObjectSchema.optional(),
  },
  report_status: { status: reportStatusSchema, url: linkSchema.optional() },
} as const;

export const analysisUpdateFields = {
  status: { status: analysisStatusSchema, progress: percent.optional() },
  partial_result: { result: jsonValueSchema, sequence: z.number().int().nonnegative().optional() },
  error: { code: text(inputBounds.shortTextChars), message: text() },
} as const;

export const anomalyFields = {
  severity: severitySchema,
  description: text(),
  contractId: text(inputBounds.shortTextChars),
  confidence: z.number().min(0).max(1),
} as const;

export const notificationFields = {
  title: text(inputBounds.titleChars),
  body: text(),
  level: notificationLevelSchema,
  link: linkSchema.optional(),
} as const;

export type InvestigationUpdateType = keyof typeof investigationUpdateFields;
export type AnalysisUpdateType = keyof typeof analysisUpdateFields;
