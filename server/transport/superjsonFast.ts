import superjson from 'superjson';
import type { RealtimeEvent } from '../../shared/events';

/**
 * `JSON.stringify(superjson.serialize(value))`, byte for byte, without
 * superjson's generic walk where the value is plain JSON plus Dates (every
 * event the contract allows): one pass notes where the Dates are, and
 * JSON.stringify writes them as superjson does (`toISOString`). Anything else
 * superjson gives a meaning to (undefined, NaN, -0, Map, Set, BigInt, class
 * instances, keys its paths would escape) goes through superjson itself.
 *
 * An event is encoded once for all its subscribers, but with one subscriber
 * per topic (chat, many quiet topics) that once is per delivered message.
 */
export function stringifySuperjson(value: unknown): string {
  const dates: string[] = [];
  if (!collectDates(value, '', dates)) return JSON.stringify(superjson.serialize(value));
  const json = JSON.stringify(value);
  if (dates.length === 0) return `{"json":${json}}`;
  let values = '';
  for (const path of dates) values += `${values === '' ? '' : ','}${JSON.stringify(path)}:["Date"]`;
  return `{"json":${json},"meta":{"values":{${values}},"v":1}}`;
}

/**
 * `stringifySuperjson({ id: event.id, data: event })` — what tRPC writes for
 * `tracked(event.id, event)` — with the event's keys in the contract's order
 * (`type`, `data`, `id`, `timestamp`), the order both engines build events
 * in, so the bytes are superjson's. Its shape is known, so only `data` is walked,
 * and the timestamp's ISO text is reused while events share a millisecond.
 * With one subscriber per topic this runs once per delivered message.
 * `id` is the event's id as JSON, for a caller that quoted it already.
 */
export function stringifyTrackedEvent(event: RealtimeEvent, id: string = JSON.stringify(event.id)): string {
  const dates: string[] = [];
  const iso = event.timestamp instanceof Date ? isoOf(event.timestamp) : null;
  if (iso === null || !collectDates(event.data, 'data.data', dates)) return stringifySuperjson({ id: event.id, data: event });
  let meta = TIMESTAMP_ONLY_META;
  if (dates.length > 0) {
    let values = '';
    for (const path of dates) values += `${JSON.stringify(path)}:["Date"],`;
    meta = `{"values":{${values}"data.timestamp":["Date"]},"v":1}`;
  }
  const head = `{"json":{"id":${id},"data":{"type":${JSON.stringify(event.type)},"data":${JSON.stringify(event.data)}`;
  return `${head},"id":${id},"timestamp":"${iso}"}},"meta":${meta}}`;
}

/** The meta of an event whose only Date is its timestamp (most of them). */
const TIMESTAMP_ONLY_META = '{"values":{"data.timestamp":["Date"]},"v":1}';

/** The second `isoOf` last formatted: its first millisecond, and its text up to the milliseconds (`…T17:20:01.`). */
let isoSecondMs = Number.NaN;
let isoSecondText = '';

/**
 * `date.toISOString()`, or null for an invalid Date. Events come thousands to
 * a second, so the text of the last second is kept and only the milliseconds
 * are written: `toISOString` itself was a fifth of encoding a chat token.
 */
function isoOf(date: Date): string | null {
  const ms = date.getTime();
  const offset = ms - isoSecondMs;
  if (offset >= 0 && offset < 1_000) return `${isoSecondText}${offset < 10 ? '00' : offset < 100 ? '0' : ''}${offset}Z`;
  if (Number.isNaN(ms)) return null;
  const iso = date.toISOString();
  isoSecondMs = ms - (((ms % 1_000) + 1_000) % 1_000);
  isoSecondText = iso.slice(0, -4);
  return iso;
}

/** Adds the paths of the Dates in `value` (superjson's dotted paths); false where superjson must do it. */
function collectDates(value: unknown, path: string, dates: string[]): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !collectDates(value[i], childPath(path, String(i)), dates)) return false;
        }
        return true;
      }
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime()) || path === '') return false;
        dates.push(path);
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      // A toJSON of its own would make JSON.stringify write something else.
      if ('toJSON' in value) return false;
      for (const key in value) {
        // superjson escapes these in its paths.
        if (key.includes('.') || key.includes('\\')) return false;
        if (!collectDates((value as Record<string, unknown>)[key], childPath(path, key), dates)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

const childPath = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
