import { createConnection } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { expect, test } from 'vitest';
import { describeWithRedisCluster, startRedisCluster } from './support/redisCluster';

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describeWithRedisCluster('Redis Cluster fixture', () => {
  test('serves keys on every master, a replica takes over a killed master, and disposal leaves no node', { timeout: 90_000 }, async () => {
    let ports: number[];
    {
      await using cluster = await startRedisCluster();
      ports = cluster.nodes.map((node) => node.port);
      expect(cluster.nodes).toHaveLength(6);
      expect(cluster.spec).toBe(ports.map((port) => `127.0.0.1:${port}`).join(','));

      const masters = await cluster.masters();
      expect(masters).toHaveLength(3);
      for (const master of masters) expect(master.replicaPorts).toHaveLength(1);
      const ranges = masters.flatMap((master) => master.slots).sort((a, b) => a[0] - b[0]);
      let next = 0;
      for (const [first, last] of ranges) {
        expect(first).toBe(next);
        next = last + 1;
      }
      expect(next).toBe(16384);

      // One key per master, so the client has to follow the slots to all three.
      const keyOf = new Map<number, string>();
      for (let i = 0; keyOf.size < 3; i++) {
        const key = `key:${i}`;
        const port = await cluster.masterOfKey(key);
        if (!keyOf.has(port)) keyOf.set(port, key);
      }
      const client = new Cluster(cluster.nodes);
      for (const key of keyOf.values()) await client.set(key, `value of ${key}`);
      for (const key of keyOf.values()) expect(await client.get(key)).toBe(`value of ${key}`);
      client.disconnect();

      const [[deadPort, key]] = [...keyOf] as [[number, string]];
      const direct = new Redis({ host: '127.0.0.1', port: deadPort });
      await direct.set(key, 'before the kill');
      expect(await direct.call('WAIT', 1, 1000)).toBe(1);
      direct.disconnect();

      await cluster.kill(deadPort);
      const newPort = await cluster.waitForFailover(deadPort);
      expect(newPort).not.toBe(deadPort);
      expect(await cluster.masterOfKey(key)).toBe(newPort);

      const after = new Cluster(cluster.nodes);
      try {
        expect(await after.get(key)).toBe('before the kill');
        await after.set(key, 'after the failover');
        expect(await after.get(key)).toBe('after the failover');
      } finally {
        after.disconnect();
      }
    }
    for (const port of ports) expect(await refusesConnections(port)).toBe(true);
  });
});
