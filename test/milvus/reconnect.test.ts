import net from 'node:net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { setCallRetryPolicy } from '../../lib/milvus/gateway/calls';
import { ClusterPool } from '../../lib/milvus/pool';
import { DB } from './helpers';

/**
 * After an outage, a step's retry opens a new gateway (withClusters marks the old one unreachable,
 * the pool replaces it). grpc-js shares one connection among every channel of the process with the
 * same address and options, with its reconnect backoff: without a connection of its own, the new
 * gateway failed with "No connection established. Last error: null" for seconds after the server
 * was back (a resumed job failed its copy so in CI). A TCP relay in front of milvus-lite makes the
 * outage: it refuses connections, then listens again at once on the same port.
 */

interface Relay {
  uri: string;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

async function startRelay(upstream: string): Promise<Relay> {
  const [host, port] = upstream.replace(/^https?:\/\//, '').split(':');
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let relayPort = 0;
  const up = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer((client) => {
        const origin = net.connect(Number(port), host);
        for (const s of [client, origin]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(origin).pipe(client);
      });
      server.once('error', reject);
      server.listen(relayPort, '127.0.0.1', () => {
        relayPort = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const down = async () => {
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const s of sockets) s.destroy();
    await closed;
    server = undefined;
  };
  await up();
  return { uri: `127.0.0.1:${relayPort}`, down, up, stop: down };
}

const pool = new ClusterPool();
let relay: Relay | undefined;

afterAll(async () => {
  setCallRetryPolicy();
  await pool.closeAll();
  await relay?.stop();
});

describe('a gateway opened anew after an outage', () => {
  it('connects at once, not behind the reconnect backoff of the gateway it replaces', async () => {
    // One try per call: a call's own retries would hide the connection it got.
    setCallRetryPolicy({ attempts: 1 });
    relay = await startRelay(inject('milvusTargetUri'));
    const before = pool.open({ uri: relay.uri });
    expect(await before.listCollections(DB)).toBeInstanceOf(Array);

    await relay.down();
    // 20 s of calls while the server is away, as a step and its retries make them: each failure
    // lengthens gRPC's wait before it tries to connect again (about 1, 1.6, 2.6, 4.1, 6.6 s...).
    const outageEnds = Date.now() + 20_000;
    while (Date.now() < outageEnds) {
      await expect(before.listCollections(DB)).rejects.toMatchObject({ code: 'MILVUS_UNAVAILABLE' });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    before.markUnreachable();
    await relay.up();

    const after = pool.open({ uri: relay.uri });
    expect(after).not.toBe(before);
    // Its first calls, through the SDK client and through the raw channel, reach the server.
    expect(await after.listCollections(DB)).toBeInstanceOf(Array);
    await expect(after.queryRows(DB, { collection: 'no_such_collection_reconnect', pkField: 'id', filter: '', outputFields: ['id'], limit: 1, timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'COLLECTION_NOT_FOUND',
    });
  }, 60_000);
});
