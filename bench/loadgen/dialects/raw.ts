import { type Dialect, withQuery } from './dialect';

/** The raw ws peer's trivial protocol: token in `?token=`, `{"sub":"topic"}` → `{"ok":"topic"}`. */
export const rawDialect: Dialect = {
  url: (wsUrl, token, client) => withQuery(wsUrl, { token, ...client.query }),

  onOpen(c) {
    c.pending = c.subs.length;
    for (const sub of c.subs) c.send(JSON.stringify({ sub: sub.topic }));
  },

  onControl(c, text) {
    let msg: { ok?: string; error?: string };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return c.fail(`unparsable frame: ${text.slice(0, 80)}`);
    }
    if (msg.error) return c.fail(msg.error);
    if (msg.ok !== undefined && --c.pending === 0) c.ready();
  },
};
