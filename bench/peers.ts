/**
 * The servers compared, as data: each is a server entry (a process of its
 * own, see servers/) with its environment, and the client protocol the load
 * generator speaks to it. A new variant (ours with permessage-deflate, a
 * client-side `?encoding=msgpack`, ...) is one more entry here; `--peers`
 * picks by name.
 */
type ClientProtocol = 'trpc' | 'socketio' | 'raw' | 'json';

export interface ClientSpec {
  protocol: ClientProtocol;
  /** trpc: our contract's procedures (`investigation.onUpdate`, ...) or the docs-style `onEvent({ topic })`. */
  dialect?: 'ours' | 'docs';
  /** Extra query parameters of the connect URL. */
  query?: Record<string, string>;
  /** Offer permessage-deflate from the client (the server decides). */
  perMessageDeflate?: boolean;
}

export interface PeerSpec {
  name: string;
  label: string;
  /** Entry file, relative to bench/. */
  server: string;
  env?: Record<string, string>;
  client: ClientSpec;
  /** Run by default (without --peers). */
  byDefault: boolean;
  /**
   * Measured by hold-max (~19 000 connections; about a minute per repeat just
   * to connect). Not raw ws batched: it holds connections as raw ws does (one
   * entry) and one event's latency only adds its batch window. Not Socket.IO
   * and vanilla tRPC: connecting that many takes them longer still (vanilla
   * also needs ~56 KB per connection), which the full run's time budget has
   * no room for; idle-memory prices them at 10 000.
   */
  holdMax: boolean;
}

export const peers: PeerSpec[] = [
  {
    name: 'ours',
    label: 'ours',
    server: 'servers/ours.ts',
    client: { protocol: 'trpc', dialect: 'ours' },
    byDefault: true,
    holdMax: true,
  },
  {
    name: 'raw',
    label: 'raw ws',
    server: 'servers/rawWs.ts',
    client: { protocol: 'raw' },
    byDefault: true,
    holdMax: true,
  },
  {
    // Raw ws with our batching (servers/rawWsBatched.ts): the batch window, a critical event flushing at
    // once, a batch's frames written corked. The practical limit for batched delivery.
    name: 'raw-batched',
    label: 'raw ws batched',
    server: 'servers/rawWs.ts',
    env: { RAW_WS_BATCH: '1' },
    client: { protocol: 'raw' },
    byDefault: true,
    holdMax: false,
  },
  {
    // Not run by default (`--peers ours,socketio`): the targets are against raw ws (batched) and vanilla tRPC.
    name: 'socketio',
    label: 'Socket.IO',
    server: 'servers/socketIo.ts',
    client: { protocol: 'socketio' },
    byDefault: false,
    holdMax: false,
  },
  {
    name: 'vanilla',
    label: 'vanilla tRPC',
    server: 'servers/vanillaTrpc.ts',
    client: { protocol: 'trpc', dialect: 'docs' },
    byDefault: true,
    holdMax: false,
  },
  {
    // Our server spoken to in its plain JSON dialect: the row beside the tRPC one.
    name: 'ours-json',
    label: 'ours (JSON dialect)',
    server: 'servers/ours.ts',
    client: { protocol: 'json' },
    byDefault: true,
    holdMax: true,
  },
  {
    // Not run by default (`--peers ours,ours-deflate,raw`): permessage-deflate negotiated with every client.
    name: 'ours-deflate',
    label: 'ours (deflate)',
    server: 'servers/ours.ts',
    env: { WS_PERMESSAGE_DEFLATE: '1' },
    client: { protocol: 'trpc', dialect: 'ours', perMessageDeflate: true },
    byDefault: false,
    holdMax: true,
  },
];
