import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 on a free port; the WebSocket URL is `ws://127.0.0.1:<port><path>`. */
export function listenHttp(http: Server, path: string): Promise<{ port: number; wsUrl: string }> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => {
      const { port } = http.address() as AddressInfo;
      resolve({ port, wsUrl: `ws://127.0.0.1:${port}${path}` });
    });
  });
}
