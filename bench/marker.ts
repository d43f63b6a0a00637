/**
 * Every published event carries `bench:<seq>:<sentAt>` in its text (the
 * broadcast notification, stream 1, carries `bnote:` instead, so one
 * connection can follow two streams). The load generator finds it with a byte
 * search instead of parsing the frame, the same cheap work for every peer.
 */
const STREAM_MARKERS = ['bench:', 'bnote:'] as const;
export type StreamIndex = 0 | 1;

export function marker(stream: StreamIndex, seq: number, sentAt: number): string {
  return `${STREAM_MARKERS[stream]}${seq}:${sentAt.toFixed(3)}`;
}

const markerBytes = STREAM_MARKERS.map((m) => Buffer.from(m));
const COLON = 0x3a;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

export interface Mark {
  stream: StreamIndex;
  seq: number;
  sentAt: number;
}

/**
 * The marks in a frame (one per event; a frame normally holds one), written to
 * `out`, which is reused between calls to allocate nothing per frame. Returns
 * how many were found.
 */
export function readMarks(frame: Buffer, out: Mark[]): number {
  let found = 0;
  for (let stream = 0 as StreamIndex; stream < markerBytes.length; stream = (stream + 1) as StreamIndex) {
    const needle = markerBytes[stream]!;
    let at = frame.indexOf(needle);
    while (at >= 0) {
      let i = at + needle.length;
      let seq = 0;
      for (let c = frame[i]; c !== undefined && c >= ZERO && c <= NINE; c = frame[++i]) seq = seq * 10 + (c - ZERO);
      if (frame[i] !== COLON) break;
      i++;
      let sentAt = 0;
      for (let c = frame[i]; c !== undefined && c >= ZERO && c <= NINE; c = frame[++i]) sentAt = sentAt * 10 + (c - ZERO);
      if (frame[i] === DOT) {
        let scale = 0.1;
        for (let c = frame[++i]; c !== undefined && c >= ZERO && c <= NINE; c = frame[++i]) {
          sentAt += (c - ZERO) * scale;
          scale /= 10;
        }
      }
      let slot = out[found];
      if (!slot) {
        slot = { stream, seq: 0, sentAt: 0 };
        out[found] = slot;
      }
      slot.stream = stream;
      slot.seq = seq;
      slot.sentAt = sentAt;
      found++;
      at = frame.indexOf(needle, i);
    }
  }
  return found;
}
