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
  /** `,"result":{"type":"data","data":…,"id":"…"}}` as UTF-8 — the rest, shared by all subscribers. */
  tail(event: RealtimeEvent): Buffer;
  /** A client's frame, or throws when it is not of this format. */
  decode(data: RawData, isBinary: boolean): unknown;
}

/**
 * JSON text frames with the router's transformer (superjson), as tRPC's
 * `jsonEncoder`. Tails are memoized per event object: the fan-out hands the
 * same objects to every subscriber, and the memory engine's replay reuses
 * them too; the cache dies with the event.
 */
export function createJsonWireFormat(router: AnyRouter): WireFormat {
  const config = router._def._config;
  const tails = new WeakMap<RealtimeEvent, Buffer>();
  // The router's transformer is superjson: its output, written without its generic walk.
  const fast = config.transformer.output.serialize === superjson.serialize;
  return {
    encode: (message) => JSON.stringify(transformTRPCResponse(config, message)),
    prefix: (id, jsonrpc) => `{"id":${JSON.stringify(id)}${jsonrpc === undefined ? '' : ',"jsonrpc":"2.0"'}`,
    tail(event) {
      let tail = tails.get(event);
      if (tail === undefined) {
        // The same object tRPC builds for a `tracked(id, event)` value.
        const data = fast
          ? stringifyTrackedEvent(event)
          : JSON.stringify(config.transformer.output.serialize({ id: event.id, data: event }));
        tail = Buffer.from(`,"result":{"type":"data","data":${data},"id":${JSON.stringify(event.id)}}}`, 'utf8');
        tails.set(event, tail);
      }
      return tail;
    },
    decode(data, isBinary) {
      if (isBinary) throw new Error('binary frame: this connection speaks JSON text frames');
      return JSON.parse(String(data));
    },
  };
}

/**
 * The seed's JSON dialect (jsonSession.ts): one text frame per event,
 * `{"type","data","timestamp","id"}`, with `timestamp` and any Date inside
 * `data` as ISO-8601 strings. Memoized per event object like the tRPC tails,
 * so an event is encoded once per dialect, whatever its subscribers.
 */
export function createDialectWireFormat() {
  const frames = new WeakMap<RealtimeEvent, Buffer>();
  return {
    frame(event: RealtimeEvent): Buffer {
      let frame = frames.get(event);
      if (frame === undefined) {
        // JSON.stringify writes a Date as its toISOString().
        frame = Buffer.from(JSON.stringify({ type: event.type, data: event.data, timestamp: event.timestamp, id: event.id }), 'utf8');
        frames.set(event, frame);
      }
      return frame;
    },
  };
}

export type DialectWireFormat = ReturnType<typeof createDialectWireFormat>;
