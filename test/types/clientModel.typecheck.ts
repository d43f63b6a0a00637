/**
 * Compile-time checks that the client has one model: its types come from
 * AppRouter in one module, `./client` and `./client/react` export them with
 * the same meaning, and the shared investigation fold takes the events the
 * client receives. Only `tsc` reads this file (npm run typecheck); nothing
 * calls the function. Each `@ts-expect-error` fails the typecheck if the line
 * under it compiles.
 */
import type * as Sdk from '../../client/index';
import { analysisFold, investigationFold, type RealtimeClient } from '../../client/index';
import type * as ReactBindings from '../../client/react/index';
import type * as Shared from '../../shared/events';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_proof?: T): void {}

export function clientModelTypeChecks(client: RealtimeClient) {
  // One meaning per name in both entry points.
  assertType<Equal<Sdk.InvestigationEvent, ReactBindings.InvestigationEvent>>();
  assertType<Equal<Sdk.NotificationItem, ReactBindings.NotificationItem>>();
  assertType<Equal<Sdk.NotificationEntry, ReactBindings.NotificationEntry>>();
  assertType<Equal<Sdk.EventOf<Sdk.ChatEvent, 'typing'>, ReactBindings.TypingEvent>>();
  assertType<Equal<Sdk.InvestigationState, ReactBindings.InvestigationState>>();

  // An item is what tRPC delivers (`{ id, data }`); an entry is one line of the notifications list.
  assertType<Equal<Sdk.NotificationItem, { id: string; data: Sdk.NotificationEvent }>>();
  assertType<Equal<Sdk.NotificationEntry['level'], 'info' | 'warning' | 'critical'>>();

  // What the client infers from AppRouter is what the shared fold (shared/investigationState.ts) is typed with.
  assertType<Equal<Sdk.InvestigationEvent, Shared.InvestigationEvent>>();
  assertType<Equal<Sdk.ChatEvent, Shared.ChatEvent>>();

  // A fold fits its topic only.
  const investigation = client.investigation('inv-1').fold(investigationFold);
  assertType<Equal<ReturnType<typeof investigation.getSnapshot>['state'], Sdk.InvestigationState>>();
  // @ts-expect-error an analysis topic does not fold into an investigation's state
  client.analysis('an-1').fold(investigationFold);
  // @ts-expect-error nor an investigation into an analysis'
  client.investigation('inv-1').fold(analysisFold);

  // The hooks return the fold's state and the stream controls.
  assertType<Equal<ReactBindings.InvestigationUpdates['subscription'], 'idle' | 'subscribing' | 'live' | 'error'>>();
  assertType<Equal<ReactBindings.InvestigationUpdates['anomaliesBySeverity'], Record<Sdk.Severity, number>>>();
  assertType<Equal<ReactBindings.AnalysisUpdates['status'], Sdk.AnalysisStatus | null>>();
}
