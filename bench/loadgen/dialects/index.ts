import type { ClientSpec } from '../../peers';
import type { Dialect } from './dialect';
import { jsonDialect } from './json';
import { rawDialect } from './raw';
import { socketIoDialect } from './socketIo';
import { trpcDialect } from './trpc';

export function dialectFor(client: ClientSpec): Dialect {
  switch (client.protocol) {
    case 'trpc':
      return trpcDialect(client.dialect ?? 'ours');
    case 'socketio':
      return socketIoDialect;
    case 'raw':
      return rawDialect;
    case 'json':
      return jsonDialect;
  }
}
