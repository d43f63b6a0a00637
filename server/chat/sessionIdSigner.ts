import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Session ids made by `chat.createSession`: `s_<random>_<tag>`, where the tag
 * is an HMAC-SHA256 of the random part and the owner's user id, truncated to
 * 128 bits. Whoever holds the id can tell nothing from it, and nobody without
 * the server's key can make one that names another user; so ownership is
 * checked against the id itself and survives a store that lost its data.
 * 47 characters of base64url: within the session-id schema (shared/ids.ts).
 */
export interface SessionIdSigner {
  /** A new id owned by `userId`. */
  issue(userId: string): string;
  /**
   * Whether `userId` owns an issued id (true / false), or undefined for an id
   * of any other shape: one a client made up, owned by whoever used it first.
   */
  isOwnedBy(sessionId: string, userId: string): boolean | undefined;
}

const PART_BYTES = 16;
/** base64url of 16 bytes, unpadded. */
const PART = `[A-Za-z0-9_-]{${Math.ceil((PART_BYTES * 4) / 3)}}`;
const issuedShape = new RegExp(`^s_(${PART})_(${PART})$`);

/** Separates this use of the JWT keys from signing tokens: a tag is never a valid token signature, nor the reverse. */
const PURPOSE = 'cidadao-realtime chat session id v1';

/**
 * `keys` are the server's JWT keys (config `jwtKeys`): the first signs, every
 * one verifies, so an id outlives a key rotation for as long as its key stays
 * in the list.
 */
export function createSessionIdSigner(keys: readonly string[]): SessionIdSigner {
  if (keys.length === 0) throw new Error('createSessionIdSigner: no key');
  const derived = keys.map((key) => createHmac('sha256', key).update(PURPOSE).digest());
  // The random part has a fixed length, so `random + userId` is unambiguous.
  const tag = (key: Buffer, random: string, userId: string) =>
    createHmac('sha256', key).update(random).update(userId).digest().subarray(0, PART_BYTES).toString('base64url');

  return {
    issue(userId) {
      const random = randomBytes(PART_BYTES).toString('base64url');
      return `s_${random}_${tag(derived[0]!, random, userId)}`;
    },
    isOwnedBy(sessionId, userId) {
      const match = issuedShape.exec(sessionId);
      if (!match) return undefined;
      // Compared as text: base64url's last character has spare bits, and a
      // variant of it must not name the same owner under another id.
      const given = Buffer.from(match[2]!);
      return derived.some((key) => timingSafeEqual(Buffer.from(tag(key, match[1]!, userId)), given));
    },
  };
}
