import { type AnyRouter, transformTRPCResponse } from '@trpc/server';
import type { TRPCResponseMessage } from '@trpc/server/rpc';
import superjson from 'superjson';
import type { RawData } from 'ws';
import type { RealtimeEvent } from '../../shared/events';
import { stringifyTrackedEvent } from './superjsonFast';

/** A request id of tRPC's protocol, and the `jsonrpc` marker echoed when the client sent it. */
export type CallId = number | string;
export type JsonRpcMarker = '2.0' | undefined;

/**
 * How messages go over the wire. An event's data frame is the one message
 * sent thousands of times, so it is built from two parts: `prefix` names the
 * subscription (computed once per subscription) and `tail` holds the event
 * (encoded once per event, whatever the number of subscribers). The frame's
 * payload is `prefix + tail`, byte for byte what tRPC's own adapter would send.
 */
export interface WireFormat {
  /** Any other message (started, stopped, errors, query results), encoded whole. */
  encode(message: TRPCResponseMessage): string;
  /** `{"id":7` — the start of every data frame of one subscription. */
  prefix(id: CallId, jsonrpc: JsonRpcMarker): string;
  /**
   * The tail of each event, `,"result":{"type":"data","data":…,"id":"…"}}` as
   * UTF-8 — the rest, shared by all subscribers (see `batchEncoder`). Read
   * before the next call: the array may be reused.
   */
  tails(events: readonly RealtimeEvent[], live: boolean): readonly Buffer[];
  /** A client's frame, or throws when it is not of this format. */
  decode(data: RawData, isBinary: boolean): unknown;
}

/**
 * Encodes events once, whatever the number of their subscribers:
 *
 * - a live batch is one array, handed to every subscriber of its topic in
 *   turn: the last batch's encodings are kept for the next subscriber. No
 *   cache per event: with one subscriber per topic (chat, many quiet topics)
 *   it would only cost a weak entry per message for the garbage collector.
 * - a replay hands over events one at a time, the memory engine the same
 *   objects to every client that resumes: those are memoized per event object
 *   (the cache dies with the event), so a reconnect storm encodes each
 *   retained event once.
 *
 * The array returned is read before the next call (writes are synchronous).
 */
export function batchEncoder(encode: (event: RealtimeEvent) => Buffer) {
  const replayed = new WeakMap<RealtimeEvent, Buffer>();
  const scratch: Buffer[] = [];
  let lastBatch: readonly RealtimeEvent[] | null = null;
  const lastEncoded: Buffer[] = [];
  return (events: readonly RealtimeEvent[], live: boolean): readonly Buffer[] => {
    const count = events.length;
    if (live) {
      if (events !== lastBatch) {
        // One array for every batch, emptied and pushed into: packed like the
        // replay's scratch, so the frame writer's loop reads one kind of array
        // (a holey one made two-node Redis runs at maximum rate measurably slower).
        lastEncoded.length = 0;
        for (let i = 0; i < count; i++) lastEncoded.push(encode(events[i]!));
        lastBatch = events;
      }
      return lastEncoded;
    }
    scratch.length = count;
    for (let i = 0; i < count; i++) {
      const event = events[i]!;
      let encoded = replayed.get(event);
      if (encoded === undefined) {
        encoded = encode(event);
        replayed.set(event, encoded);
      }
      scratch[i] = encoded;
    }
    return scratch;
  };
}

/** JSON text frames with the router's transformer (superjson), as tRPC's `jsonEncoder`. */
export function createJsonWireFormat(router: AnyRouter): WireFormat {
  const config = router._def._config;
  // The router's transformer is superjson: its output, written without its generic walk.
  const fast = config.transformer.output.serialize === superjson.serialize;
  return {
    encode: (message) => JSON.stringify(transformTRPCResponse(config, message)),
    prefix: (id, jsonrpc) => `{"id":${JSON.stringify(id)}${jsonrpc === undefined ? '' : ',"jsonrpc":"2.0"'}`,
    tails: batchEncoder((event) => {
      // The id, quoted once: it is both in tRPC's tracked value and after it.
      const id = JSON.stringify(event.id);
      // The same object tRPC builds for a `tracked(id, event)` value.
      const data = fast
        ? stringifyTrackedEvent(event, id)
        : JSON.stringify(config.transformer.output.serialize({ id: event.id, data: event }));
      return Buffer.from(`,"result":{"type":"data","data":${data},"id":${id}}}`, 'utf8');
    }),
    decode(data, isBinary) {
      if (isBinary) throw new Error('binary frame: this connection speaks JSON text frames');
      return JSON.parse(String(data));
    },
  };
}

/**
 * The seed's JSON dialect (jsonSession.ts): one text frame per event,
 * `{"type","data","timestamp","id"}`, with `timestamp` and any Date inside
 * `data` as ISO-8601 strings, encoded once per dialect whatever its
 * subscribers (`batchEncoder`).
 */
export function createDialectWireFormat() {
  return {
    // JSON.stringify writes a Date as its toISOString().
    frames: batchEncoder((event) =>
      Buffer.from(JSON.stringify({ type: event.type, data: event.data, timestamp: event.timestamp, id: event.id }), 'utf8'),
    ),
  };
}

export type DialectWireFormat = ReturnType<typeof createDialectWireFormat>;
