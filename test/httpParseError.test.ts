import { expect, test } from 'vitest';
import { collect, type InvestigationItem } from './support/collect';
import { startServer } from './support/server';

/**
 * A body over HTTP that is not JSON answers tRPC's PARSE_ERROR (-32700), as
 * over the WebSocket ("Errors" in the README); JSON of the wrong shape, or no
 * body at all, is an input failing its schema: BAD_REQUEST (-32600). Nothing
 * is published in any case, and the server answers the next request.
 */
interface ErrorBody {
  error: { json: { message: string; code: number; data: { code: string; httpStatus: number; path?: string } } };
}

async function setup() {
  const srv = await startServer();
  const serviceToken = await srv.token({ sub: 'backend', roles: ['service'] });
  const { client } = srv.wsClient({ token: await srv.token({ sub: 'alice', investigations: ['inv-1'] }) });
  const updates = collect<InvestigationItem>((h) => client.investigation.onUpdate.subscribe({ investigationId: 'inv-1' }, h));
  await updates.started;
  const post = async (body: string) => {
    const res = await fetch(`${srv.address.httpUrl}/api/v1/trpc/investigation.notifyUpdate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serviceToken}`, 'content-type': 'application/json' },
      body,
    });
    return { status: res.status, body: (await res.json()) as ErrorBody };
  };
  /** A valid publish afterwards: the first event the subscriber gets must be this one. */
  const nothingElseWasPublished = async () => {
    const res = await post('{"investigationId":"inv-1","updateType":"progress","data":{"progress":40}}');
    expect(res.status).toBe(200);
    const [first] = await updates.take(1);
    expect(first!.data).toMatchObject({ type: 'investigation_update', data: { investigationId: 'inv-1', progress: 40 } });
  };
  return { post, nothingElseWasPublished, [Symbol.asyncDispose]: () => srv[Symbol.asyncDispose]() };
}

test('a body that is not JSON answers 400 PARSE_ERROR (-32700)', async () => {
  await using t = await setup();
  for (const body of ['{bad', '{"investigationId":"inv-1",', 'investigationId=inv-1', '{"a":1}}']) {
    const res = await t.post(body);
    expect(res.status, body).toBe(400);
    expect(res.body.error.json.code, body).toBe(-32700);
    expect(res.body.error.json.data, body).toMatchObject({ code: 'PARSE_ERROR', httpStatus: 400 });
  }
  await t.nothingElseWasPublished();
});

test('a JSON body of the wrong shape answers 400 BAD_REQUEST (-32600) naming the field', async () => {
  await using t = await setup();
  for (const body of ['{"investigationId":"inv-1","updateType":"progress","data":{"progress":"forty"}}', '{"foo":1}', '[1,2]', 'null']) {
    const res = await t.post(body);
    expect(res.status, body).toBe(400);
    expect(res.body.error.json.code, body).toBe(-32600);
    expect(res.body.error.json.data, body).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
  }
  expect(
    (await t.post('{"investigationId":"inv-1","updateType":"progress","data":{"progress":"forty"}}')).body.error.json.message,
  ).toContain('data.progress');
  await t.nothingElseWasPublished();
});

test('an empty body is a missing input: 400 BAD_REQUEST, not a parse error', async () => {
  await using t = await setup();
  const res = await t.post('');
  expect(res.status).toBe(400);
  expect(res.body.error.json.code).toBe(-32600);
  expect(res.body.error.json.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
  await t.nothingElseWasPublished();
});
