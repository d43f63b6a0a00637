import { z } from 'zod';
import { inputBounds } from './limits';

/**
 * The fields of each update type, shared by the mutation inputs (where they sit
 * under `data`) and the events (where they sit flat beside the topic id).
 */
const text = (max: number = inputBounds.textChars) => z.string().min(1).max(max);

export const jsonObjectSchema = z.record(z.string(), z.json());

export const investigationStatusSchema = z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']);
export const reportStatusSchema = z.enum(['queued', 'generating', 'ready', 'failed']);
export const analysisStatusSchema = z.enum(['pending', 'running', 'completed', 'failed']);
export const severitySchema = z.enum(['low', 'medium', 'high', 'critical']);
export const notificationLevelSchema = z.enum(['info', 'warning', 'critical']);
export const chatRoleSchema = z.enum(['user', 'assistant', 'system']);

const percent = z.number().min(0).max(100);

export const investigationUpdateFields = {
  status: { status: investigationStatusSchema, message: text().optional() },
  progress: { progress: percent, stage: text(inputBounds.shortTextChars).optional() },
  agent_finding: {
    agent: text(inputBounds.shortTextChars),
    finding: text(),
    details: jsonObjectSchema.optional(),
  },
  report_status: { status: reportStatusSchema, url: z.url().max(inputBounds.urlChars).optional() },
} as const;

export const analysisUpdateFields = {
  status: { status: analysisStatusSchema, progress: percent.optional() },
  partial_result: { result: z.json(), sequence: z.number().int().nonnegative().optional() },
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
  link: z.url().max(inputBounds.urlChars).optional(),
} as const;

export type InvestigationUpdateType = keyof typeof investigationUpdateFields;
export type AnalysisUpdateType = keyof typeof analysisUpdateFields;
