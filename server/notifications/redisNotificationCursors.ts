/**
 * Notification cursors in Redis, shared by every node. One key per user (P =
 * the deployment's prefix; the name predates this store and is kept so
 * deployed cursors carry over):
 *
 *   P cursor:notification-cursor:<user>   the id of the last notification delivered;
 *                                         expires a ttl after its last advance.
 */
import type { RedisClients } from '../redis/connect';
import { luaCommand } from '../redis/luaCommand';
import { luaCompareIds } from '../redis/scripts';
import type { NotificationCursors, NotificationCursorsOptions } from './notificationCursors';

/** KEYS: the cursor. ARGV: id, ttlMs. Moves the cursor forward only; refreshes its expiry. */
const advanceScript = luaCommand(
  'rtAdvanceNotificationCursor',
  `${luaCompareIds}
local current = redis.call('GET', KEYS[1])
if current and cmp(current, ARGV[1]) >= 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`,
);

export class RedisNotificationCursors implements NotificationCursors {
  constructor(
    private readonly redis: RedisClients,
    private readonly opts: Pick<NotificationCursorsOptions, 'ttlMs'>,
  ) {}

  private key(userId: string) {
    return `${this.redis.prefix}cursor:notification-cursor:${userId}`;
  }

  async get(userId: string): Promise<string | null> {
    return this.redis.command.get(this.key(userId));
  }

  async advance(userId: string, id: string): Promise<void> {
    await advanceScript.run(this.redis.command, [this.key(userId)], [id, this.opts.ttlMs]);
  }

  erase(userId: string): Promise<number> {
    return this.redis.command.del(this.key(userId));
  }

  /** Nothing is held in this process. */
  stats() {
    return { notificationCursors: 0 };
  }

  async close(): Promise<void> {}
}
