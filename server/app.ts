import type { Health } from '../shared/health';
import type { AdminService } from './admin/adminService';
import type { TokenKeys } from './auth/tokenKeys';
import type { EventBus } from './bus/eventBus';
import type { ChatService } from './chat/chatService';
import type { ChatSessionStore } from './chat/sessionStore';
import type { Clock } from './clock';
import type { ControlChannel } from './cluster/controlChannel';
import type { RealtimeConfig } from './config';
import type { UserConnectionCounter } from './limits/connectionCounter';
import type { RateLimiter } from './limits/messageRateLimiter';
import type { KnownUsers } from './notifications/knownUsers';
import type { NotificationCursors } from './notifications/notificationCursors';
import type { ErrorReporter } from './observability/errorReporter';
import type { Logger } from './observability/logger';
import type { Metrics } from './observability/metrics';
import type { PresenceService } from './presence/presenceService';
import type { Publishers } from './publish/publishers';
import type { ConnectionRegistry } from './transport/connectionRegistry';

/** The services of one server instance, handed to procedures through the context. */
export interface AppServices {
  config: RealtimeConfig;
  logger: Logger;
  metrics: Metrics;
  /** Counts, and logs where it matters, every error a transport answers. */
  reportError: ErrorReporter;
  /** The only door to the engine. */
  bus: EventBus;
  /** Commands and notices for every node (operator actions, presence). */
  control: ControlChannel;
  /** Who watches which investigation, on every node (`eraseUser` for erasure). */
  presence: PresenceService;
  /** Operator actions (admin.*) on every node, and the revocation checks of authentication and subscriptions. */
  admin: AdminService;
  sessions: ChatSessionStore;
  chat: ChatService;
  publishers: Publishers;
  knownUsers: KnownUsers;
  notificationCursors: NotificationCursors;
  registry: ConnectionRegistry;
  rateLimiter: RateLimiter;
  /** The per-user connection limit (across nodes with Redis). */
  connectionCounter: UserConnectionCounter;
  /** JWT_SECRET's keys (the first signs, all verify) and the token lifetime bound: what verifyToken checks against. */
  jwtKey: TokenKeys;
  /** Judges token expiry and runs the expiry and authentication timers. */
  clock: Clock;
  health(): Health;
}
