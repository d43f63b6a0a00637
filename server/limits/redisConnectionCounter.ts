/**
 * The per-user connection count in Redis, across every node. One key per user
 * (P = the deployment's prefix):
 *
 *   P conn:<userId>   sorted set: the user's connection ids on every node, each
 *                     scored by the expiry of its lease (ms, Redis clock); the key
 *                     expires with its newest lease
 *
 * `acquire` is one Lua script on the user's key: drop the expired leases,
 * count, add if under the limit. Each node renews the leases of its own live
 * connections every `refreshMs`, one script call per hash slot (on a Redis
 * Cluster a script may only touch keys of one slot; users' keys spread over
 * them), the calls in parallel; and removes a lease on close. A node that dies
 * stops renewing, so its connections stop counting `leaseMs` later.
 *
 * While Redis is unreachable the node admits against its own connections only
 * (never more than the limit on this node), and its next renewal, once Redis is
 * back, writes every live connection of the node again.
 */

import type { Logger } from '../observability/logger';
import { admitScript } from '../redis/admitScript';
import type { RedisClients } from '../redis/connect';
import { luaCommand, luaExtendTtl, luaNowMs } from '../redis/luaCommand';
import { groupBySlot } from '../redis/slotOf';
import type { UserConnectionCounter } from './connectionCounter';

/** KEYS: one user set per connection, all in one slot. ARGV: leaseMs, then the connection ids in the order of KEYS. */
const renewScript = luaCommand(
  'rtConnRenew',
  `${luaNowMs}${luaExtendTtl}
local lease = tonumber(ARGV[1])
local expires = now_ms() + lease
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, expires, ARGV[i + 1])
  extend(key, lease)
end
return #KEYS
`,
);

/** Leases renewed per script call of a renewal. */
const RENEW_CHUNK = 500;

export interface RedisConnectionCounterOptions {
  maxPerUser: number;
  /** How long a lease counts without renewal: a dead node's connections stop counting after this. */
  leaseMs?: number;
  /** How often this node renews the leases of its live connections; well under `leaseMs`. */
  refreshMs?: number;
  logger: Logger;
}

export class RedisConnectionCounter implements UserConnectionCounter {
  /** This node's counted connections: connection id → user id. */
  private readonly live = new Map<string, string>();
  private readonly usersLive = new Map<string, number>();
  private readonly leaseMs: number;
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> | null = null;
  /** Released while a renewal was in flight: the renewal may have written them back. */
  private readonly releasedDuringRenewal = new Map<string, string>();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly redis: RedisClients,
    private readonly opts: RedisConnectionCounterOptions,
  ) {
    this.leaseMs = opts.leaseMs ?? 30_000;
    const refreshMs = opts.refreshMs ?? Math.max(1, Math.floor(this.leaseMs / 3));
    if (refreshMs >= this.leaseMs) throw new Error('refreshMs must be shorter than leaseMs');
    this.timer = setInterval(() => {
      this.renewing ??= this.renew().finally(() => {
        this.renewing = null;
      });
    }, refreshMs);
    this.timer.unref();
  }

  private key(userId: string) {
    return `${this.redis.prefix}conn:${userId}`;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(() => undefined);
    return promise;
  }

  private countLocally(userId: string, connectionId: string) {
    if (this.live.has(connectionId)) return;
    this.live.set(connectionId, userId);
    this.usersLive.set(userId, (this.usersLive.get(userId) ?? 0) + 1);
  }

  async acquire(userId: string, connectionId: string): Promise<boolean> {
    let admitted: boolean;
    try {
      admitted =
        (await this.track(admitScript.run(this.redis.command, [this.key(userId)], [connectionId, this.opts.maxPerUser, this.leaseMs]))) ===
        1;
    } catch (err) {
      // Insurance: without Redis, this node's own connections are all it can count.
      admitted = this.live.has(connectionId) || (this.usersLive.get(userId) ?? 0) < this.opts.maxPerUser;
      this.opts.logger.warn({ event: 'connection_count_unavailable', userId, admitted, message: (err as Error).message });
    }
    if (admitted) this.countLocally(userId, connectionId);
    return admitted;
  }

  async release(userId: string, connectionId: string): Promise<void> {
    if (this.live.get(connectionId) === userId) {
      this.live.delete(connectionId);
      const left = (this.usersLive.get(userId) ?? 1) - 1;
      if (left <= 0) this.usersLive.delete(userId);
      else this.usersLive.set(userId, left);
    }
    if (this.renewing) this.releasedDuringRenewal.set(connectionId, userId);
    await this.track(this.redis.command.zrem(this.key(userId), connectionId)).catch((err: Error) => {
      // Its lease is no longer renewed: it stops counting within leaseMs.
      this.opts.logger.warn({ event: 'connection_release_failed', userId, message: err.message });
    });
  }

  /** Renews every live connection's lease: one call per slot (and chunk), in parallel. */
  private async renew(): Promise<void> {
    if (this.live.size === 0) return;
    const entries = [...this.live];
    // At most RENEW_CHUNK leases a call, each call within one slot.
    const calls = groupBySlot(entries, ([, userId]) => this.key(userId), this.redis.cluster).flatMap((group) =>
      Array.from({ length: Math.ceil(group.length / RENEW_CHUNK) }, (_, i) => group.slice(i * RENEW_CHUNK, (i + 1) * RENEW_CHUNK)),
    );
    try {
      const results = await this.track(
        Promise.allSettled(
          calls.map((call) =>
            renewScript.run(
              this.redis.command,
              call.map(([, userId]) => this.key(userId)),
              [this.leaseMs, ...call.map(([connectionId]) => connectionId)],
            ),
          ),
        ),
      );
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (err) {
      this.opts.logger.warn({ event: 'connection_lease_renewal_failed', connections: entries.length, message: (err as Error).message });
    } finally {
      const released = [...this.releasedDuringRenewal];
      this.releasedDuringRenewal.clear();
      for (const [connectionId, userId] of released) {
        if (!this.live.has(connectionId)) void this.track(this.redis.command.zrem(this.key(userId), connectionId)).catch(() => undefined);
      }
    }
  }

  /**
   * Drops the user's key (their leases on every node). Their connections are
   * being closed (admin.eraseUser): each close releases its lease here, and a
   * renewal that wrote one back in between is undone by that release.
   */
  async eraseUser(userId: string): Promise<number> {
    return this.redis.command.del(this.key(userId));
  }

  stats() {
    return { users: this.usersLive.size, connections: this.live.size };
  }

  /** Stops renewing (what a crashed node does, minus the crash) and waits for calls in flight. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.pending]);
  }
}
