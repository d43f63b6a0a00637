import type { SubSpec } from '../protocol';
import { type Dialect, withQuery } from './dialect';

/**
 * Our server's plain JSON dialect (README, "Other languages"): token in
 * `?token=`, then `{"type":"subscribe","data":{...}}` per topic, each answered
 * `{"type":"subscribed"}`. Chat needs no `chat.send` here: the benchmark's
 * agent streams a session's tokens once it is subscribed through tRPC only, so
 * the chat scenario is not run for this peer (investigations and
 * notifications are).
 */
const subscribeData: Record<SubSpec['kind'], (topic: string) => Record<string, unknown>> = {
  investigation: (topic) => ({ investigation_id: topic }),
  chat: (topic) => ({ session_id: topic }),
  notification: () => ({ notifications: true }),
};

export const jsonDialect: Dialect = {
  url: (wsUrl, token, client) => withQuery(wsUrl, { token, ...client.query }),

  onOpen(c) {
    c.pending = c.subs.length;
    for (const sub of c.subs) c.send(JSON.stringify({ type: 'subscribe', data: subscribeData[sub.kind](sub.topic) }));
  },

  onControl(c, text) {
    let msg: { type?: string; data?: { code?: string; message?: string } };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return c.fail(`unparsable frame: ${text.slice(0, 80)}`);
    }
    if (msg.type === 'error') return c.fail(`${msg.data?.code}: ${msg.data?.message}`);
    if (msg.type === 'subscribed' && --c.pending === 0) c.ready();
  },
};
