import type { Duplex } from 'node:stream';

/**
 * WebSocket text frames (RFC 6455 §5.2) for a batch of messages that share a
 * prefix, built into one buffer and written to the socket in one call.
 *
 * ws's `send` takes one finished payload per call: ours are a per-subscription
 * prefix and a per-event tail encoded once for all subscribers, and sending
 * them through ws would mean joining and re-encoding them per subscriber and
 * per event, with a frame header, an options object and a stream chunk each.
 * Server frames are unmasked, so a frame is just a header and the bytes; the
 * caller uses this only where ws itself would write straight to the socket
 * (no permessage-deflate on the connection), so ws's own frames (pings,
 * close) and ours interleave whole, in order, and ws's `bufferedAmount` still
 * counts what waits in the socket.
 */

/** FIN + opcode 1 (text): one complete text message per frame. */
const FIN_TEXT = 0x81;

function headerSize(payloadLength: number): number {
  if (payloadLength < 126) return 2;
  if (payloadLength < 65_536) return 4;
  return 10;
}

function writeHeader(target: Buffer, offset: number, payloadLength: number): number {
  target[offset] = FIN_TEXT;
  if (payloadLength < 126) {
    target[offset + 1] = payloadLength;
    return offset + 2;
  }
  if (payloadLength < 65_536) {
    target[offset + 1] = 126;
    target.writeUInt16BE(payloadLength, offset + 2);
    return offset + 4;
  }
  target[offset + 1] = 127;
  // 64-bit length; a Buffer cannot reach 2^32 bytes here, so the high half is zero.
  target.writeUInt32BE(0, offset + 2);
  target.writeUInt32BE(payloadLength, offset + 6);
  return offset + 10;
}

/**
 * Writes one text frame per tail, each carrying `prefix` (of `prefixBytes`
 * UTF-8 bytes) followed by the tail. `flushed` runs once all of them have
 * left for the kernel (or the socket failed).
 */
export function writeTextFrames(
  socket: Duplex,
  prefix: string,
  prefixBytes: number,
  tails: readonly Buffer[],
  count: number,
  flushed?: () => void,
) {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const length = prefixBytes + tails[i]!.length;
    total += headerSize(length) + length;
  }
  const frames = Buffer.allocUnsafe(total);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const tail = tails[i]!;
    offset = writeHeader(frames, offset, prefixBytes + tail.length);
    offset += frames.write(prefix, offset, 'utf8');
    offset += tail.copy(frames, offset);
  }
  socket.write(frames, flushed);
}
