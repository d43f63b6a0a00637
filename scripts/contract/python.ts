import type { JsonSchema } from './jsonSchema';
import { eventSchemas } from './jsonSchemaFiles';

/**
 * Where `npm run contract` writes the Python client's event classes, under contract/ (so the staleness
 * test covers them); client/python/cidadao_realtime/events.py is a symbolic link to it.
 */
export const pythonEventsPath = 'python/cidadao_realtime/events.py';

const pascal = (name: string) =>
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');

const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

const pyString = (value: unknown) => JSON.stringify(value);

const article = (word: string) => (/^[aeiou]/.test(word) ? 'an' : 'a');

const capital = (word: string) => word[0]!.toUpperCase() + word.slice(1);

interface Field {
  name: string;
  key: string;
  annotation: string;
  convert: (raw: string) => string;
  required: boolean;
}

/** The Python type of one property, and how a JSON value of it becomes a Python value. */
function fieldOf(key: string, schema: JsonSchema, required: boolean): Field {
  let annotation = 'Any';
  let convert = (raw: string) => raw;
  if (schema.const !== undefined) {
    annotation = `Literal[${pyString(schema.const)}]`;
  } else if (Array.isArray(schema.enum)) {
    annotation = `Literal[${schema.enum.map(pyString).join(', ')}]`;
  } else if (schema.type === 'string' && schema.format === 'date-time') {
    annotation = 'datetime';
    convert = (raw) => `parse_datetime(${raw})`;
  } else if (schema.type === 'string') {
    annotation = 'str';
  } else if (schema.type === 'number') {
    annotation = 'float';
    convert = (raw) => `float(${raw})`;
  } else if (schema.type === 'integer') {
    annotation = 'int';
    convert = (raw) => `int(${raw})`;
  } else if (schema.type === 'boolean') {
    annotation = 'bool';
    convert = (raw) => `bool(${raw})`;
  } else if (schema.type === 'object') {
    annotation = 'Dict[str, Any]';
  }
  return { name: snake(key), key, annotation, convert, required };
}

/** One dataclass of an event's `data`, with `from_json` converting the camelCase JSON object. */
function dataClass(name: string, schema: JsonSchema, doc: string): string {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  const fields = Object.entries(properties).map(([key, prop]) => fieldOf(key, prop, required.has(key)));
  const ordered = [...fields.filter((f) => f.required), ...fields.filter((f) => !f.required)];
  const lines = ['@dataclass(frozen=True)', `class ${name}:`, `    """${doc}"""`, ''];
  for (const f of ordered) {
    lines.push(f.required ? `    ${f.name}: ${f.annotation}` : `    ${f.name}: Optional[${f.annotation}] = None`);
  }
  lines.push('', '    @classmethod', `    def from_json(cls, raw: Dict[str, Any]) -> "${name}":`, '        return cls(');
  for (const f of ordered) {
    const value = f.required ? f.convert(`raw[${pyString(f.key)}]`) : optional(f);
    lines.push(`            ${f.name}=${value},`);
  }
  lines.push('        )', '');
  lines.push('    def to_json(self) -> Dict[str, Any]:', '        out: Dict[str, Any] = {}');
  for (const f of ordered) {
    const value = f.annotation === 'datetime' ? `format_datetime(self.${f.name})` : `self.${f.name}`;
    if (f.required) lines.push(`        out[${pyString(f.key)}] = ${value}`);
    else lines.push(`        if self.${f.name} is not None:`, `            out[${pyString(f.key)}] = ${value}`);
  }
  lines.push('        return out', '');
  return lines.join('\n');
}

function optional(f: Field): string {
  const raw = `raw[${pyString(f.key)}]`;
  const converted = f.convert(raw);
  return converted === raw ? `raw.get(${pyString(f.key)})` : `${converted} if raw.get(${pyString(f.key)}) is not None else None`;
}

/** The events of the contract, one event class each, their `data` one dataclass per variant. */
function eventModule(schemas: Record<string, JsonSchema>): string {
  // Top-level definitions, two blank lines apart (PEP 8).
  const blocks: string[] = [];
  const eventClasses: [string, string][] = [];
  for (const [type, schema] of Object.entries(schemas)) {
    if (type === 'RealtimeEvent') continue;
    const data = (schema.properties as Record<string, JsonSchema>).data!;
    const variants = (data.anyOf as JsonSchema[] | undefined) ?? [data];
    const base = pascal(type);
    const dataNames: string[] = [];
    let discriminator: string | null = null;
    const dispatch: [unknown, string][] = [];
    for (const variant of variants) {
      const props = (variant.properties ?? {}) as Record<string, JsonSchema>;
      const tag = variants.length > 1 ? Object.entries(props).find(([, p]) => p.const !== undefined) : undefined;
      const name = tag ? `${base}${pascal(String(tag[1].const))}Data` : `${base}Data`;
      if (tag) {
        discriminator = tag[0];
        dispatch.push([tag[1].const, name]);
      }
      dataNames.push(name);
      const which = tag ? ` whose ${tag[0]} is ${pyString(tag[1].const)}` : '';
      blocks.push(dataClass(name, variant, `The data of ${article(type)} \`${type}\` event${which}.`));
    }
    const union = dataNames.length > 1;
    const dataType = union ? `${base}Payload` : dataNames[0]!;
    const variantsName = `_${snake(base)}_variants`;
    if (union) {
      blocks.push(`${dataType} = Union[${dataNames.join(', ')}]`);
      blocks.push(
        [`${variantsName}: Dict[str, Any] = {`, ...dispatch.map(([tag, name]) => `    ${pyString(tag)}: ${name},`), '}'].join('\n'),
      );
    }
    const parse = union ? `${variantsName}[raw[${pyString(discriminator)}]].from_json(raw)` : `${dataNames[0]}.from_json(raw)`;
    const eventName = `${base}Event`;
    eventClasses.push([type, eventName]);
    blocks.push(
      [
        '@dataclass(frozen=True)',
        `class ${eventName}:`,
        `    """${capital(article(type))} \`${type}\` event: its id (resume from it), when it happened, and its data."""`,
        '',
        `    type: ClassVar[str] = ${pyString(type)}`,
        '    id: str',
        '    timestamp: datetime',
        `    data: ${dataType}`,
        '',
        '    @classmethod',
        `    def from_json(cls, raw: Dict[str, Any]) -> "${eventName}":`,
        '        return cls(id=raw["id"], timestamp=parse_datetime(raw["timestamp"]), data=cls._data(raw["data"]))',
        '',
        '    @staticmethod',
        `    def _data(raw: Dict[str, Any]) -> ${dataType}:`,
        `        return ${parse}`,
      ].join('\n'),
    );
  }
  blocks.push(`Event = Union[${eventClasses.map(([, name]) => name).join(', ')}]`);
  blocks.push(
    [
      '#: The event class of each event type of the contract.',
      'EVENT_TYPES: Dict[str, Any] = {',
      ...eventClasses.map(([type, name]) => `    ${pyString(type)}: ${name},`),
      '}',
    ].join('\n'),
  );
  const body = blocks.map((block) => block.replace(/\n+$/, '')).join('\n\n\n');
  const names = [...body.matchAll(/^(?:class (\w+)|(\w+) = Union)/gm)].map((m) => m[1] ?? m[2]!);
  const header = [
    "# Generated by `npm run contract` (scripts/contract/python.ts) from the events' JSON Schemas",
    '# (contract/json-schema/events). Do not edit: change the zod schemas in shared/ and run `npm run contract`.',
    '"""The contract\'s events as typed Python objects."""',
    '',
    'from __future__ import annotations',
    '',
    'from dataclasses import dataclass',
    'from datetime import datetime',
    'from typing import Any, ClassVar, Dict, Literal, Optional, Union',
    '',
    'from ._convert import format_datetime, parse_datetime',
    '',
    '__all__ = [',
    ...[...names, 'EVENT_TYPES'].map((name) => `    ${pyString(name)},`),
    ']',
  ];
  return `${header.join('\n')}\n\n\n${body}\n`;
}

/** client/python/cidadao_realtime/events.py, generated from the events' JSON Schemas. */
export function pythonEventsModule(): string {
  return eventModule(eventSchemas());
}
