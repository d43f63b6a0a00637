import type { ConnectionType } from '../../shared/health';
import type { Connection } from './connection';

/**
 * Every open connection of this node, and the authenticated ones by user.
 * Entries are added at the upgrade and removed on the close event; nothing
 * else holds them. The per-user limit is the UserConnectionCounter's.
 */
export class ConnectionRegistry {
  readonly connections = new Map<string, Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private subscriptionTotal = 0;

  add(conn: Connection) {
    this.connections.set(conn.id, conn);
  }

  /** Files an authenticated connection under its user (once the counter admitted it). */
  addToUser(conn: Connection) {
    const userId = conn.principal!.userId;
    const set = this.byUser.get(userId);
    if (set) set.add(conn);
    else this.byUser.set(userId, new Set([conn]));
  }

  remove(conn: Connection) {
    this.connections.delete(conn.id);
    const userId = conn.principal?.userId;
    if (userId === undefined) return;
    const set = this.byUser.get(userId);
    if (!set) return;
    set.delete(conn);
    if (set.size === 0) this.byUser.delete(userId);
  }

  onSubscriptionsChanged = (delta: number) => {
    this.subscriptionTotal += delta;
  };

  /** Users with at least one authenticated connection. */
  connectedUsers(): IterableIterator<string> {
    return this.byUser.keys();
  }

  countByType(): Record<ConnectionType, number> {
    const counts: Record<ConnectionType, number> = { general: 0, investigation: 0, analysis: 0, chat: 0 };
    for (const conn of this.connections.values()) counts[conn.type]++;
    return counts;
  }

  stats() {
    return { connections: this.connections.size, users: this.byUser.size, subscriptions: this.subscriptionTotal };
  }
}
