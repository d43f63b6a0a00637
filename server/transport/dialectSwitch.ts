import type { ApiError } from '../errors';
import type { Context } from '../trpc/context';
import type { Connection, ProtocolSession } from './connection';

/** What the switch builds once the first frame told it the dialect. */
export interface Dialects {
  /** tRPC's protocol (rpcSession.ts); it authenticates with `?token=` itself (the same, memoized authentication). */
  rpc(conn: Connection, queryToken: string | null, expectsConnectionParams: boolean): ProtocolSession;
  /** The seed's JSON dialect (jsonSession.ts), with the authentication `?token=` started, if any. */
  json(conn: Connection, context: Promise<Context> | null): ProtocolSession;
  /** Starts the connection's authentication (memoized per connection). */
  authenticate(conn: Connection, token: string | null): Promise<Context>;
}

/**
 * `/api/v1/ws` speaks either dialect, and the first frame says which for the
 * connection's whole life: a JSON object with a `type` field is the seed's
 * dialect (tRPC's first frame never has one), anything else is tRPC's.
 *
 * Where the token comes from: a `?token=` is verified and counted at connect,
 * before that frame; otherwise the first frame carries it (tRPC's
 * connectionParams message with `?connectionParams=1`, or the dialect's
 * `auth`), and a tRPC frame without one is refused as token_missing.
 */
export class DialectSwitch implements ProtocolSession {
  private session: ProtocolSession | null = null;
  private ended = false;
  private readonly context: Promise<Context> | null;

  constructor(
    private readonly conn: Connection,
    private readonly queryToken: string | null,
    private readonly expectsConnectionParams: boolean,
    private readonly dialects: Dialects,
  ) {
    this.context = queryToken === null || expectsConnectionParams ? null : dialects.authenticate(conn, queryToken);
    // Refused before the first frame: tRPC's session reports it (its error frame, then our close code), as it always did.
    this.context?.catch(() => {
      if (this.session === null && !this.ended) this.session = dialects.rpc(conn, queryToken, false);
    });
  }

  receive(data: Buffer, isBinary: boolean) {
    if (this.ended) return;
    if (this.session === null) {
      this.session = isDialectFrame(data, isBinary)
        ? this.dialects.json(this.conn, this.context)
        : this.dialects.rpc(this.conn, this.queryToken, this.expectsConnectionParams);
    }
    this.session.receive(data, isBinary);
  }

  end() {
    this.ended = true;
    this.session?.end();
  }

  revokeTopic(topic: string, error: ApiError): number {
    return this.session?.revokeTopic(topic, error) ?? 0;
  }
}

function isDialectFrame(data: Buffer, isBinary: boolean): boolean {
  if (isBinary) return false;
  try {
    const parsed: unknown = JSON.parse(data.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && 'type' in parsed;
  } catch {
    return false;
  }
}
