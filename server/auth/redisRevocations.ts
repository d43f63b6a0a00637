/**
 * Revocations in Redis, shared by every node; the authority every node reads
 * (a node's cache of the broadcasts only ever adds refusals). Keys (P = the
 * deployment's prefix; each in a hash tag of its own, so a Redis Cluster could
 * hold them; the user appears only as a hash, `userTag`, since a record may
 * outlive the user's erasure):
 *
 *   P{u:<userTag>}:revoked   hash: resource (topic name) → when the user's access was
 *                            revoked (ms); expires `lifetimeMs` after its last write
 *   P{jti:<jti>}:revoked     "1": the token is revoked; expires after `lifetimeMs`
 */
import type { RedisClients } from '../redis/connect';
import { luaCommand, luaExtendTtl } from '../redis/luaCommand';
import { type Revocations, type RevocationsOptions, userTag } from './revocations';

/** KEYS: the user's hash. ARGV: resource, atMs, lifetimeMs. Keeps the later time; extends the key's life. */
const revokeAccessScript = luaCommand(
  'rtRevokeAccess',
  `${luaExtendTtl}
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
local at = tonumber(ARGV[2])
if not current or current < at then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
extend(KEYS[1], tonumber(ARGV[3]))
return 1
`,
);

export class RedisRevocations implements Revocations {
  constructor(
    private readonly redis: RedisClients,
    private readonly opts: RevocationsOptions,
  ) {}

  private userKey(userId: string) {
    return `${this.redis.prefix}{u:${userTag(userId)}}:revoked`;
  }

  private tokenKey(jti: string) {
    return `${this.redis.prefix}{jti:${jti}}:revoked`;
  }

  async revokeAccess(userId: string, resource: string, atMs: number): Promise<void> {
    await revokeAccessScript.run(this.redis.command, [this.userKey(userId)], [resource, atMs, this.opts.lifetimeMs]);
  }

  async accessRevokedAt(userId: string, resource: string): Promise<number | null> {
    const at = await this.redis.command.hget(this.userKey(userId), resource);
    return at === null ? null : Number(at);
  }

  async revokeToken(jti: string): Promise<void> {
    await this.redis.command.set(this.tokenKey(jti), '1', 'PX', this.opts.lifetimeMs);
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return (await this.redis.command.exists(this.tokenKey(jti))) === 1;
  }

  /** Nothing is held in this process. */
  stats() {
    return { revokedAccess: 0, revokedTokens: 0 };
  }

  /** The Redis clients belong to the server, which closes them. */
  async close(): Promise<void> {}
}
