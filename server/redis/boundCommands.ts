import type { Command } from 'ioredis';
import type { RedisProbe } from './redisProbe';
import type { RedisClient } from './replication';

/** A command Redis did not answer within the timeout. */
export class RedisTimeoutError extends Error {
  override name = 'RedisTimeoutError';
  readonly code = 'redis_timeout';
}

/**
 * Every command on `client` gets an answer or an error within `timeoutMs`,
 * and fails at once while the probe finds Redis hung (its own ping excepted).
 *
 * Refused at once: the way ioredis fails commands while disconnected (no
 * offline queue), so every caller (publishes, history reads, the stores, the
 * rate limiter) already handles it, and nothing piles up on a socket Redis
 * does not read, to run late, after its caller was told it failed.
 *
 * Bounded here rather than with ioredis's `commandTimeout`: a timer fires
 * before the replies waiting in the socket are read, so an event loop that
 * stalled a second (a long synchronous task, a loaded machine) would fail
 * commands Redis had answered in time. The verdict waits one turn
 * (`setImmediate`), after pending replies were read.
 *
 * Pipelines pass through `sendCommand` command by command, so both apply to
 * them too. ioredis has no hook for this; its monitor mode wraps
 * `sendCommand` the same way.
 */
export function boundCommands(client: RedisClient, probe: RedisProbe, timeoutMs: number): void {
  const send = client.sendCommand.bind(client) as (command: Command, ...rest: unknown[]) => unknown;
  // A cluster passes the node to send to as a third argument.
  (client as { sendCommand: (command: Command, ...rest: unknown[]) => unknown }).sendCommand = (command, ...rest) => {
    // Only on a ready connection: a new one's handshake must go through (it is how Redis proves it answers again).
    if (probe.unresponsive && client.status === 'ready' && command.name !== 'ping') {
      command.reject(new Error(`Redis answered no ping within ${timeoutMs} ms (unresponsive)`));
      return command.promise;
    }
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (!command.isSettled) command.reject(new RedisTimeoutError(`Redis did not answer ${command.name} within ${timeoutMs} ms`));
        }),
      timeoutMs,
    );
    const settled = () => clearTimeout(timer);
    const result = send(command, ...rest);
    command.promise.then(settled, settled);
    return result;
  };
}
