/**
 * A tRPC v11 subscription server written the way the tRPC docs teach it:
 * superjson, a context that verifies the token from `connectionParams`, a
 * protected procedure, and a subscription that is an `async function*` over
 * `on(emitter, topic, { signal })` yielding `tracked(id, event)`, served by
 * `applyWSSHandler` on a `ws` server with keepAlive.
 */
import { EventEmitter, on } from 'node:events';
import { createServer } from 'node:http';
import { initTRPC, TRPCError, tracked } from '@trpc/server';
import { applyWSSHandler, type CreateWSSContextFnOptions } from '@trpc/server/adapters/ws';
import superjson from 'superjson';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { listenHttp } from './listenHttp';
import { type Envelope, envelopeOf } from './payload';
import { benchSecret, type EventKind } from './protocol';
import { runVariant } from './runner';
import { createVerifier } from './verifyJwt';

const verify = createVerifier(benchSecret());

async function createContext({ info }: CreateWSSContextFnOptions) {
  const userId = await verify(info.connectionParams?.token);
  return { userId };
}

const t = initTRPC.context<typeof createContext>().create({ transformer: superjson });
const protectedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.userId) throw new TRPCError({ code: 'UNAUTHORIZED' });
  return next({ ctx: { userId: ctx.userId } });
});

const ee = new EventEmitter();
ee.setMaxListeners(0); // one listener per subscriber

const appRouter = t.router({
  onEvent: protectedProcedure.input(z.object({ topic: z.string(), lastEventId: z.string().nullish() })).subscription(async function* ({
    input,
    signal,
  }) {
    for await (const [event] of on(ee, input.topic, { signal }) as AsyncIterable<[Envelope]>) {
      yield tracked(event.id, event);
    }
  }),
});

export type VanillaRouter = typeof appRouter;

const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: process.env.WS_PERMESSAGE_DEFLATE === '1' });
applyWSSHandler({ wss, router: appRouter, createContext, keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 5_000 } });

function publish(kind: EventKind, topic: string, seq: number, sentAt: number) {
  ee.emit(topic, envelopeOf(kind, topic, seq, sentAt));
}

await runVariant('vanillaTrpc', {
  listen: () => listenHttp(http, '/'),
  publish,
});
