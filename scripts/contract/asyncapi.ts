import pkg from '../../package.json' with { type: 'json' };
import { CloseCode } from '../../shared/closeCodes';
import { connectionTypes, paths } from '../../shared/paths';
import { clientMessages, serverReplies } from './jsonDialectSchemas';
import { type JsonSchema, toJsonSchema } from './jsonSchema';
import { eventSchemas } from './jsonSchemaFiles';
import { procedures, subscriptionEvents } from './procedures';
import { hoistDefinitions } from './refs';

type Messages = Record<string, { $ref: string }>;

const refs = (names: readonly string[], base: string): Messages => Object.fromEntries(names.map((n) => [n, { $ref: `${base}/${n}` }]));
const closeCodes = Object.entries(CloseCode)
  .map(([name, code]) => `${code} ${name}`)
  .join(', ');

/**
 * The AsyncAPI 3 document of both dialects on the WebSocket endpoints: tRPC
 * (`/api/v1/ws`) and the seed's JSON dialect (`/api/v1/ws` and the
 * per-resource paths). Payloads are the contract's JSON Schemas.
 */
export function asyncApiDocument(): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const addMessage = (name: string, summary: string, schema: JsonSchema, description?: string) => {
    schemas[name] = hoistDefinitions(name, schema, schemas);
    messages[name] = { name, summary, ...(description ? { description } : {}), payload: { $ref: `#/components/schemas/${name}` } };
  };

  const events = eventSchemas();
  const eventTypes = Object.keys(events).filter((t) => t !== 'RealtimeEvent');
  for (const type of eventTypes) addMessage(`event.${type}`, `A \`${type}\` event`, events[type]!);
  for (const [type, schema] of Object.entries(clientMessages))
    addMessage(`json.${type}`, `JSON dialect: \`${type}\``, toJsonSchema(schema, 'input'));
  for (const [type, schema] of Object.entries(serverReplies))
    addMessage(`json.${type}`, `JSON dialect: \`${type}\``, toJsonSchema(schema, 'output'));

  const trpcMessages: string[] = [];
  const operations: Record<string, unknown> = {};
  for (const { path, kind, input } of procedures()) {
    if (kind === 'query') continue;
    const name = `trpc.${path}`;
    addMessage(
      name,
      `tRPC ${kind} \`${path}\``,
      input ? toJsonSchema(input, 'input') : {},
      `The input of \`${path}\`, sent as tRPC's \`{ id, method: "${kind}", params: { path: "${path}", input } }\` with the input superjson-encoded.`,
    );
    trpcMessages.push(name);
    const yields = subscriptionEvents[path];
    operations[name] = {
      action: 'receive',
      channel: { $ref: '#/channels/trpc' },
      summary: yields ? `subscribe to \`${path}\`` : `call \`${path}\` (also over HTTP: POST ${paths.trpc}/${path})`,
      messages: [{ $ref: `#/channels/trpc/messages/${name}` }],
      ...(yields
        ? {
            reply: {
              channel: { $ref: '#/channels/trpc' },
              messages: yields.map((t) => ({ $ref: `#/channels/trpc/messages/event.${t}` })),
            },
          }
        : {}),
    };
  }

  const clientNames = Object.keys(clientMessages).map((t) => `json.${t}`);
  const replyNames = Object.keys(serverReplies).map((t) => `json.${t}`);
  const eventNames = eventTypes.map((t) => `event.${t}`);
  const query = {
    ws: {
      bindingVersion: '0.1.0',
      query: {
        type: 'object',
        properties: {
          token: { type: 'string', description: 'the JWT (else tRPC connectionParams.token, or a JSON-dialect auth frame)' },
          connection_type: { type: 'string', enum: [...connectionTypes], description: 'the `type` label of connection metrics' },
        },
      },
    },
  };
  const channels: Record<string, unknown> = {
    trpc: {
      address: paths.ws,
      title: 'tRPC over WebSocket',
      description: `tRPC v11's WebSocket protocol, superjson-encoded (a Date stays a Date); subscriptions are multiplexed and tracked, so \`lastEventId\` resumes. Close codes: ${closeCodes}.`,
      messages: refs([...trpcMessages, ...eventNames], '#/components/messages'),
      bindings: query,
    },
    json: {
      address: paths.ws,
      title: 'JSON dialect',
      description:
        "The plain JSON protocol (of the platform's original WebSocket service) on the tRPC endpoint: a connection whose first frame is a JSON object with a `type` speaks it for its whole life. Events are `{ type, data, timestamp, id }` with ISO-8601 timestamps. camelCase keys are accepted too.",
      messages: refs([...clientNames, ...eventNames, ...replyNames], '#/components/messages'),
      bindings: query,
    },
  };
  const resources = [
    ['investigation', `${paths.ws}/investigations/{investigationId}`, 'investigationId', 'investigation.onUpdate'],
    ['analysis', `${paths.ws}/analysis/{analysisId}`, 'analysisId', 'analysis.onUpdate'],
    ['chat', `${paths.ws}/chat/{sessionId}`, 'sessionId', 'chat.onEvent'],
  ] as const;
  for (const [kind, address, parameter, subscription] of resources) {
    const yields = (subscriptionEvents[subscription] ?? []).map((t) => `event.${t}`);
    channels[`${kind}Resource`] = {
      address,
      title: `JSON dialect, one ${kind}`,
      description: `A per-resource path of the original service: JSON dialect only, subscribed to the ${kind} at connect (access-checked like \`${subscription}\`).`,
      parameters: { [parameter]: { description: `the ${kind} to watch` } },
      messages: refs([...clientNames, ...yields, ...replyNames], '#/components/messages'),
      bindings: query,
    };
    operations[`${kind}Resource.receive`] = {
      action: 'receive',
      channel: { $ref: `#/channels/${kind}Resource` },
      messages: clientNames.map((n) => ({ $ref: `#/channels/${kind}Resource/messages/${n}` })),
    };
    operations[`${kind}Resource.send`] = {
      action: 'send',
      channel: { $ref: `#/channels/${kind}Resource` },
      messages: [...yields, ...replyNames].map((n) => ({ $ref: `#/channels/${kind}Resource/messages/${n}` })),
    };
  }
  operations['json.receive'] = {
    action: 'receive',
    channel: { $ref: '#/channels/json' },
    messages: clientNames.map((n) => ({ $ref: `#/channels/json/messages/${n}` })),
  };
  operations['json.send'] = {
    action: 'send',
    channel: { $ref: '#/channels/json' },
    messages: [...eventNames, ...replyNames].map((n) => ({ $ref: `#/channels/json/messages/${n}` })),
  };

  return {
    asyncapi: '3.1.0',
    info: {
      title: 'Cidadão.AI realtime',
      version: pkg.version,
      description: 'Generated by `npm run contract` from the zod schemas and the router; do not edit.',
    },
    defaultContentType: 'application/json',
    servers: {
      local: { host: 'localhost:8080', protocol: 'ws', description: 'a local server (`npm start`); use wss behind TLS' },
    },
    channels,
    operations,
    components: { schemas, messages },
  };
}
