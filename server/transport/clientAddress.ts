import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../config';

/**
 * Who a request comes from, as the per-address bounds count it.
 *
 * Without trusted proxies it is the socket's own address: X-Forwarded-For is
 * written by whoever sends the request, so believing it would let any client
 * pick a fresh address per request. With `trustProxy` (addresses or CIDRs) it
 * is believed only when the socket's address is one of those proxies, and
 * read from the right: each proxy appends the address it saw, so the
 * rightmost hop that is not a trusted proxy is the first one nobody could
 * forge. What lies to its left is whatever the client wrote.
 *
 * An IPv6 client is counted by its /64: one subscriber is routed at least a
 * /64 and may pick any address in it, so counting single addresses would not
 * bound one client at all.
 */
export function createClientAddress(trustProxy: readonly string[]): (req: IncomingMessage) => string {
  const proxies = trustProxy.length > 0 ? proxyList(trustProxy) : null;

  return function clientAddress(req) {
    const peer = unmapped(req.socket.remoteAddress ?? '');
    if (!proxies || !isTrusted(proxies, peer)) return bucket(peer);
    const header = req.headers['x-forwarded-for'];
    // Node joins repeated X-Forwarded-For headers into one string; the type allows an array.
    const forwarded = Array.isArray(header) ? header.join(',') : header;
    if (!forwarded) return bucket(peer);
    let client = peer;
    const hops = forwarded.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = unmapped(hops[i]!.trim());
      // Not an address: no trusted proxy wrote it, so the last trusted hop is as far as anyone can see.
      if (isIP(hop) === 0) break;
      client = hop;
      if (!isTrusted(proxies, hop)) break;
    }
    return bucket(client);
  };
}

function proxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const proxy = parseProxy(entry);
    if (!proxy) throw new ConfigError(`TRUST_PROXY: "${entry}" is not an IP address or a CIDR (such as 10.0.0.0/8 or fd00::/8)`);
    if (proxy.bits === null) list.addAddress(proxy.address, proxy.type);
    else list.addSubnet(proxy.address, proxy.bits, proxy.type);
  }
  return list;
}

/** `10.0.0.7`, `10.0.0.0/8`, `fd00::1` or `fd00::/8`; null for anything else. */
function parseProxy(entry: string): { address: string; bits: number | null; type: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return null;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (prefix === undefined) return { address, bits: null, type };
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : -1;
  if (bits < 0 || bits > (family === 6 ? 128 : 32)) return null;
  return { address, bits, type };
}

function isTrusted(proxies: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && proxies.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** `::ffff:203.0.113.7` (an IPv4 client of a dual-stack socket) is 203.0.113.7: one client, one key. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** The key the bounds count by: an IPv4 address as it is, an IPv6 address as its /64 (`2001:db8:0:1::/64`). */
function bucket(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail] = address.split('%', 1)[0]!.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  // `::` stands for as many zero groups as make eight.
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...headGroups, ...new Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}
