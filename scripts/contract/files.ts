import { asyncApiDocument } from './asyncapi';
import { appRouterDeclarations } from './dts';
import { eventSchemas, inputSchemas } from './jsonSchemaFiles';
import { pythonEventsModule, pythonEventsPath } from './python';

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** Biome leaves generated files alone: they are compared byte for byte with what the generator writes. */
const biomeConfig = { root: false, extends: '//', formatter: { enabled: false }, linter: { enabled: false }, assist: { enabled: false } };

/** Every file of `contract/`, by its path under it. */
export function contractFiles(): Map<string, string> {
  const files = new Map<string, string>();
  files.set('biome.json', json(biomeConfig));
  for (const [name, schema] of Object.entries(eventSchemas())) files.set(`json-schema/events/${name}.json`, json(schema));
  for (const [name, schema] of Object.entries(inputSchemas())) files.set(`json-schema/inputs/${name}.json`, json(schema));
  files.set('asyncapi.json', json(asyncApiDocument()));
  files.set('appRouter.d.ts', appRouterDeclarations());
  files.set(pythonEventsPath, pythonEventsModule());
  return files;
}
