import type { Logger } from '../observability/logger';
import { RedisTimeoutError } from './boundCommands';
import type { RedisClient } from './replication';

/** How often a node pings Redis to know whether it still answers. */
const PROBE_INTERVAL_MS = 1_000;

export interface RedisProbe {
  /**
   * True while Redis, connected, answered no ping within the timeout: a hung
   * Redis (stopped, swapping, a blocking script) keeps its socket open, so the
   * connection status alone would still say ready.
   */
  readonly unresponsive: boolean;
  stop(): void;
}

/**
 * One ping at a time on `client`, every second while it is connected. The
 * ping is bounded like every command (boundCommands.ts): a ping that times
 * out makes Redis unresponsive, the next answer (or a new connection, which
 * answered its ready check) responsive again. A hung Redis gets one ping per
 * timeout.
 */
export function probeRedis(client: RedisClient, logger: Logger): RedisProbe {
  let unresponsive = false;
  let inFlight = false;

  const mark = (value: boolean) => {
    if (value === unresponsive) return;
    unresponsive = value;
    if (value) logger.warn({ event: 'redis_unresponsive' });
    else logger.info({ event: 'redis_responsive' });
  };

  const ping = () => {
    if (inFlight || client.status !== 'ready') return;
    inFlight = true;
    client.ping().then(
      () => {
        inFlight = false;
        mark(false);
      },
      (err: unknown) => {
        inFlight = false;
        // A ping cut off by a disconnect says nothing: the connection status reports that.
        if (!(err instanceof RedisTimeoutError)) return;
        mark(true);
        // The next one goes at once: while Redis hangs a ping is always waiting,
        // and the first answer after it wakes up makes it responsive again.
        ping();
      },
    );
  };
  const onReady = () => mark(false);
  client.on('ready', onReady);
  const timer = setInterval(ping, PROBE_INTERVAL_MS);
  timer.unref();

  return {
    get unresponsive() {
      return unresponsive;
    },
    stop() {
      clearInterval(timer);
      client.off('ready', onReady);
    },
  };
}
