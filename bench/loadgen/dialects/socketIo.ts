import { type Dialect, withQuery } from './dialect';

/**
 * Engine.IO v4 / Socket.IO v5 over a raw WebSocket
 * (`/socket.io/?EIO=4&transport=websocket`): the server opens with `0{...}`;
 * we connect to the main namespace with our token as auth (`40{"token":...}`,
 * answered `40{...}` or `44{...}` on refusal), then join each room with an
 * acknowledged `42<n>["subscribe","topic"]` → `43<n>[...]`. Events arrive as
 * `42["event",{...}]`; the server's ping `2` gets pong `3`.
 */
export const socketIoDialect: Dialect = {
  url: (wsUrl, _token, client) => withQuery(wsUrl, { EIO: '4', transport: 'websocket', ...client.query }),

  onOpen() {
    // The server speaks first (the Engine.IO open packet).
  },

  onControl(c, text) {
    switch (text[0]) {
      case '0':
        return c.send(`40${JSON.stringify({ token: c.token })}`);
      case '2':
        return c.send('3');
      case '1':
        return c.fail('engine.io close');
      case '4':
        break;
      default:
        return;
    }
    switch (text[1]) {
      case '0':
        c.pending = c.subs.length;
        c.subs.forEach((sub, i) => {
          c.send(`42${i}${JSON.stringify(['subscribe', sub.topic])}`);
        });
        return;
      case '3':
        if (--c.pending === 0) c.ready();
        return;
      case '4':
        return c.fail(`socket.io connect_error: ${text.slice(2, 120)}`);
      case '1':
        return c.fail('socket.io disconnect');
      default:
        return;
    }
  },
};
