/**
 * Compile-time checks of the SDK's topic emitters. Only `tsc` reads this file
 * (npm run typecheck); nothing calls the function, so no connection is made.
 * Each `@ts-expect-error` fails the typecheck if the line under it compiles.
 */
import { expectTypeOf } from 'vitest';
import type { RealtimeClient } from '../../client/index';

/** What the emitter's types accept and refuse. */
export function emitterTypeChecks(client: RealtimeClient) {
  // @ts-expect-error an investigation yields no chat messages
  client.investigation('x').on('chat_message', () => undefined);
  // @ts-expect-error an anomaly has no updateType
  client.investigation('x').on('anomaly_detected', (event) => event.data.updateType);
  // @ts-expect-error analyses yield analysis_update, not investigation_update
  client.analysis('x').on('investigation_update', () => undefined);
  client.chat('s').on('chat_token', (event) => expectTypeOf(event.data.delta).toBeString());
  client.notifications().on('notification', (event) => expectTypeOf(event.data.level).toEqualTypeOf<'info' | 'warning' | 'critical'>());
}
