import type { SubSpec } from '../protocol';
import { type Dialect, type DialectConn, withQuery } from './dialect';

/**
 * tRPC v11's WebSocket protocol (see @trpc/server/src/adapters/ws.ts):
 * `?connectionParams=1`, then the first frame
 * `{"method":"connectionParams","data":{"token":...}}`, then one
 * `subscription` request per topic (superjson input `{ json: ... }`), each
 * answered `{"id":n,"result":{"type":"started"}}`. Text `PING` gets `PONG`.
 * Our contract's chat needs one `chat.send` per session to start the reply
 * whose tokens the benchmark streams.
 */
type Call = { path: string; input?: unknown };

const oursProcedures: Record<SubSpec['kind'], (topic: string) => Call> = {
  investigation: (topic) => ({ path: 'investigation.onUpdate', input: { investigationId: topic } }),
  chat: (topic) => ({ path: 'chat.onEvent', input: { sessionId: topic } }),
  notification: () => ({ path: 'notification.onNotification' }),
};

const docsProcedure = (topic: string): Call => ({ path: 'onEvent', input: { topic } });

/** Ids of follow-up mutations start here; subscriptions are 1..n. */
const FOLLOW_UP_BASE = 100;

interface TrpcFrame {
  id?: number | string | null;
  method?: string;
  result?: { type?: string };
  error?: { json?: { message?: string }; message?: string };
}

function frame(id: number, method: 'subscription' | 'mutation', call: Call): string {
  const params = call.input === undefined ? { path: call.path } : { path: call.path, input: { json: call.input } };
  return JSON.stringify({ id, method, params });
}

export function trpcDialect(flavour: 'ours' | 'docs'): Dialect {
  const callOf = (sub: SubSpec) => (flavour === 'ours' ? oursProcedures[sub.kind](sub.topic) : docsProcedure(sub.topic));
  return {
    url: (wsUrl, _token, client) => withQuery(wsUrl, { connectionParams: '1', ...client.query }),

    onOpen(c) {
      c.send(JSON.stringify({ method: 'connectionParams', data: { token: c.token } }));
      c.pending = c.subs.length;
      c.subs.forEach((sub, i) => {
        c.send(frame(i + 1, 'subscription', callOf(sub)));
      });
    },

    onControl(c: DialectConn, text: string) {
      if (text === 'PING') return c.send('PONG');
      if (text === 'PONG') return;
      let msg: TrpcFrame;
      try {
        msg = JSON.parse(text) as TrpcFrame;
      } catch {
        return c.fail(`unparsable frame: ${text.slice(0, 80)}`);
      }
      if (msg.error)
        return c.fail(`tRPC error (id ${String(msg.id)}): ${msg.error.json?.message ?? msg.error.message ?? text.slice(0, 120)}`);
      if (typeof msg.id !== 'number') return; // e.g. a reconnect notification
      if (msg.result?.type === 'started' && msg.id < FOLLOW_UP_BASE) {
        c.pending--;
        const sub = c.subs[msg.id - 1];
        if (flavour === 'ours' && sub?.kind === 'chat') {
          c.pending++;
          c.send(
            frame(FOLLOW_UP_BASE + msg.id, 'mutation', {
              path: 'chat.send',
              input: { sessionId: sub.topic, content: 'stream the benchmark tokens' },
            }),
          );
        }
      } else if (msg.result?.type === 'data' && msg.id >= FOLLOW_UP_BASE) {
        c.pending--;
      } else if (msg.result?.type === 'stopped') {
        return c.fail(`subscription ${msg.id} stopped by the server`);
      } else {
        return; // an event without a marker (e.g. the echo of our chat message)
      }
      if (c.pending === 0) c.ready();
    },
  };
}
