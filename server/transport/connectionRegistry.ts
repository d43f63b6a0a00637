import type { Connection } from './connection';

/**
 * Every open connection of this node. Entries are added at the upgrade and
 * removed on the close event; nothing else holds them. The per-user limit is
 * the UserConnectionCounter's; who is connected is read off the connections
 * (broadcasts and stats need it rarely, so no second map keyed by user).
 */
export class ConnectionRegistry {
  readonly connections = new Map<string, Connection>();
  private subscriptionTotal = 0;

  add(conn: Connection) {
    this.connections.set(conn.id, conn);
  }

  remove(conn: Connection) {
    this.connections.delete(conn.id);
  }

  onSubscriptionsChanged = (delta: number) => {
    this.subscriptionTotal += delta;
  };

  /** Users with at least one admitted connection. */
  connectedUsers(): Set<string> {
    const users = new Set<string>();
    for (const conn of this.connections.values()) if (conn.admitted) users.add(conn.principal!.userId);
    return users;
  }

  stats() {
    return { connections: this.connections.size, users: this.connectedUsers().size, subscriptions: this.subscriptionTotal };
  }
}
