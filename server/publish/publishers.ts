import { createHash } from 'node:crypto';
import type { EventDraft, RealtimeEvent } from '../../shared/events';
import {
  type NotifyAnalysisUpdateInput,
  type NotifyAnomalyInput,
  type NotifyInvestigationUpdateInput,
  notifyAnalysisUpdateInput,
  notifyAnomalyInput,
  notifyInvestigationUpdateInput,
  type SendNotificationInput,
  sendNotificationInput,
} from '../../shared/inputs';
import { limitDefaults } from '../../shared/limits';
import { topics } from '../../shared/topics';
import type { Principal } from '../auth/principal';
import type { IdempotencyClaim } from '../bus/engine';
import type { EventBus } from '../bus/eventBus';
import type { ChatSessionStore } from '../chat/sessionStore';
import { apiError } from '../errors';
import type { KnownUsers } from '../notifications/knownUsers';
import type { Logger } from '../observability/logger';

export interface PublisherDeps {
  bus: EventBus;
  sessions: ChatSessionStore;
  knownUsers: KnownUsers;
  connectedUsers: () => Iterable<string>;
  logger: Logger;
  /** How long an `idempotencyKey` is remembered (`IDEMPOTENCY_TTL_SECONDS` × 1000). */
  idempotencyTtlMs?: number;
}

/**
 * Who publishes, for the scope of an `idempotencyKey`: the token's `sub` for
 * the mutations; the in-process functions share one scope of their own.
 */
export interface PublishCaller {
  publisher: string;
}

const IN_PROCESS: PublishCaller = { publisher: 'in-process' };

/** The scope of a mutation's keys: its token's subject (never equal to the in-process scope). */
export function publisherOf(principal: Principal): PublishCaller {
  return { publisher: `sub:${principal.userId}` };
}

/** A stable text of a payload: object keys sorted at every level, Dates as ISO strings (JSON.stringify applies toJSON first). */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The parsed input without its key: what the fingerprint covers. */
function withoutKey<T extends { idempotencyKey?: string }>(input: T): Omit<T, 'idempotencyKey'> {
  const { idempotencyKey: _key, ...payload } = input;
  return payload;
}

/**
 * The publishing side, shared by the service mutations and the in-process
 * functions, so both validate and fan out the same way. Inputs are parsed with
 * the contract's schemas: an in-process caller gets the same checks as HTTP.
 *
 * An `idempotencyKey` is checked at two levels. Each topic the call writes
 * keeps a record of it, checked and written by the engine in the same atomic
 * step as the event (a retry after a lost reply finds it: never a duplicate
 * event). The whole call's result is recorded too once it has succeeded: a
 * retry gets the same ids without touching any topic (a broadcast's
 * recipients are not looked up again), and a key reused for another payload
 * is refused before anything is stored, whatever topics it names.
 */
export function createPublishers(deps: PublisherDeps) {
  const { bus, sessions } = deps;
  const ttlMs = deps.idempotencyTtlMs ?? limitDefaults.IDEMPOTENCY_TTL_SECONDS * 1000;

  /**
   * Runs `publish` at most once per (caller, procedure, key) within the ttl.
   * `publish` gets the claim each topic is written under (none without a key)
   * and says whether the call is complete (a chat copy that failed is not: a
   * retry then writes the missing copies, and only them).
   */
  async function once<R>(
    caller: PublishCaller,
    procedure: string,
    input: { idempotencyKey?: string },
    publish: (claim: IdempotencyClaim | undefined) => Promise<{ result: R; complete: boolean }>,
  ): Promise<R> {
    const key = input.idempotencyKey;
    if (key === undefined) return (await publish(undefined)).result;
    const name = sha256(JSON.stringify([caller.publisher, procedure, key]));
    const fingerprint = sha256(canonicalJson(withoutKey(input)));
    const recorded = await bus.recall(name);
    if (recorded !== null) {
      const space = recorded.indexOf(' ');
      if (recorded.slice(0, space) !== fingerprint) throw apiError('idempotency_conflict');
      return JSON.parse(recorded.slice(space + 1)) as R;
    }
    const { result, complete } = await publish({ key: name, fingerprint, ttlMs });
    if (complete) {
      // The events are stored: a record that cannot be written only costs a retry the per-topic check.
      await bus.remember(name, `${fingerprint} ${JSON.stringify(result)}`, ttlMs).catch((err: unknown) => {
        deps.logger.warn({ event: 'idempotency_record_failed', procedure, err });
      });
    }
    return result;
  }

  /** Publishes to one topic, under the claim when there is one; the event's id. */
  async function put(topic: string, draft: EventDraft, claim: IdempotencyClaim | undefined): Promise<string> {
    if (!claim) return (await bus.publish(topic, draft)).id;
    return (await bus.publishClaimed(topic, draft, claim)).id;
  }

  /** Investigation events also reach the chat sessions watching the investigation. */
  async function publishInvestigationEvent(
    investigationId: string,
    draft: EventDraft,
    claim: IdempotencyClaim | undefined,
  ): Promise<{ result: { id: string }; complete: boolean }> {
    // Watchers first: if they cannot be read, nothing is stored and the caller
    // may simply retry. Once the event itself is stored it is accepted; a copy
    // that fails is logged rather than turned into an error a retry would
    // answer with a duplicate. Copies go under the same claim, each in its own
    // topic, so a retry does not copy twice either.
    const watching = await sessions.watchersOf(investigationId).catch((cause: unknown) => {
      // To a publisher this is the same outage as the event store's own.
      throw apiError('engine_unavailable', cause instanceof Error ? cause.message : undefined);
    });
    const id = await put(topics.investigation(investigationId), draft, claim);
    const copies = await Promise.allSettled(watching.map((sessionId) => put(topics.chat(sessionId), draft, claim)));
    const failed = copies.filter((c) => c.status === 'rejected').length;
    if (failed > 0) deps.logger.error({ event: 'chat_copy_failed', investigationId, eventId: id, failed });
    return { result: { id }, complete: failed === 0 };
  }

  return {
    async notifyInvestigationUpdate(raw: NotifyInvestigationUpdateInput, caller: PublishCaller = IN_PROCESS): Promise<{ id: string }> {
      const input = notifyInvestigationUpdateInput.parse(raw);
      const data = { investigationId: input.investigationId, updateType: input.updateType, ...input.data };
      return once(caller, 'investigation.notifyUpdate', input, (claim) =>
        publishInvestigationEvent(
          input.investigationId,
          { type: 'investigation_update', data: data as Extract<RealtimeEvent, { type: 'investigation_update' }>['data'] },
          claim,
        ),
      );
    },

    async notifyAnomalyDetected(raw: NotifyAnomalyInput, caller: PublishCaller = IN_PROCESS): Promise<{ id: string }> {
      const input = notifyAnomalyInput.parse(raw);
      return once(caller, 'investigation.notifyAnomaly', input, (claim) =>
        publishInvestigationEvent(
          input.investigationId,
          { type: 'anomaly_detected', data: { investigationId: input.investigationId, ...input.anomaly } },
          claim,
        ),
      );
    },

    async notifyAnalysisUpdate(raw: NotifyAnalysisUpdateInput, caller: PublishCaller = IN_PROCESS): Promise<{ id: string }> {
      const input = notifyAnalysisUpdateInput.parse(raw);
      const data = { analysisId: input.analysisId, updateType: input.updateType, ...input.data };
      return once(caller, 'analysis.notifyUpdate', input, async (claim) => {
        const id = await put(
          topics.analysis(input.analysisId),
          { type: 'analysis_update', data: data as Extract<RealtimeEvent, { type: 'analysis_update' }>['data'] },
          claim,
        );
        return { result: { id }, complete: true };
      });
    },

    /**
     * To the listed users, or to every user seen within the notification
     * retention (and everyone connected now) for a broadcast. Each user's copy
     * is kept for them if they are offline.
     */
    async sendNotification(raw: SendNotificationInput, caller: PublishCaller = IN_PROCESS): Promise<{ ids: string[] }> {
      const input = sendNotificationInput.parse(raw);
      return once(caller, 'notification.send', input, async (claim) => {
        const { title, body, level, link } = input;
        const recipients =
          'userIds' in input ? new Set(input.userIds) : new Set([...(await deps.knownUsers.list()), ...deps.connectedUsers()]);
        const data = link === undefined ? { title, body, level } : { title, body, level, link };
        const ids = await Promise.all(
          [...recipients].map((userId) => put(topics.notification(userId), { type: 'notification', data }, claim)),
        );
        return { result: { ids }, complete: true };
      });
    },
  };
}

export type Publishers = ReturnType<typeof createPublishers>;
