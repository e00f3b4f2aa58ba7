import net from 'node:net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CaptureProxy } from '../../lib/milvus/gateway/captureProxy';
import { sleep } from '../../lib/milvus/backoff';
import { setCallRetryPolicy } from '../../lib/milvus/gateway/calls';
import { openCluster, startCaptureProxy } from '../../lib/milvus/gateway';
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
  /** When each connection was attempted while the relay was down (ms since the epoch). */
  refused: number[];
  /** Cuts every connection, and from now on closes each new one as it opens (a server that went away). */
  down(): void;
  /** Relays again (the server is back), at once, on the same port. */
  up(): void;
  stop(): Promise<void>;
}

/** A TCP relay in front of a server, whose outage the test starts and ends at the millisecond. */
async function startRelay(upstream: string): Promise<Relay> {
  const [host, port] = upstream.replace(/^https?:\/\//, '').split(':');
  const sockets = new Set<net.Socket>();
  let relaying = true;
  const refused: number[] = [];
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (!relaying) {
      refused.push(Date.now());
      client.destroy();
      return;
    }
    const origin = net.connect(Number(port), host);
    for (const s of [client, origin]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(origin).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    uri: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    refused,
    down: () => {
      relaying = false;
      for (const s of sockets) s.destroy();
    },
    up: () => {
      relaying = true;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const pool = new ClusterPool();
const started: { relays: Relay[]; endpoint?: CaptureProxy } = { relays: [] };

afterAll(async () => {
  setCallRetryPolicy();
  await started.endpoint?.close();
  await pool.closeAll();
  await Promise.all(started.relays.map((r) => r.stop()));
});

describe('a gateway opened anew after an outage', () => {
  it('connects at once, not behind the reconnect backoff of the gateway it replaces', async () => {
    // One try per call: a call's own retries would hide the connection it got.
    setCallRetryPolicy({ attempts: 1 });
    const relay = await startRelay(inject('milvusTargetUri'));
    started.relays.push(relay);
    const before = pool.open({ uri: relay.uri });
    expect(await before.listCollections(DB)).toBeInstanceOf(Array);

    relay.down();
    // 20 s of calls while the server is away, as a step and its retries make them: each failure
    // lengthens gRPC's wait before it tries to connect again (about 1, 1.6, 2.6, 4.1, 6.6 s...).
    const outageEnds = Date.now() + 20_000;
    while (Date.now() < outageEnds) {
      await expect(before.listCollections(DB)).rejects.toMatchObject({ code: 'MILVUS_UNAVAILABLE' });
      await sleep(1_000);
    }
    before.markUnreachable();
    relay.up();

    const after = pool.open({ uri: relay.uri });
    expect(after).not.toBe(before);
    // Its first calls, through the SDK client and through the raw channel, reach the server.
    expect(await after.listCollections(DB)).toBeInstanceOf(Array);
    await expect(after.queryRows(DB, { collection: 'no_such_collection_reconnect', pkField: 'id', filter: '', outputFields: ['id'], limit: 1, timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'COLLECTION_NOT_FOUND',
    });
  }, 60_000);
});

describe('the capture endpoint after its source went away', () => {
  it("tries its source again every second or so, not on gRPC's backoff of up to two minutes, and forwards once it is back", async () => {
    setCallRetryPolicy({ attempts: 1 });
    const relay = await startRelay(inject('milvusTargetUri'));
    started.relays.push(relay);
    const endpoint = await startCaptureProxy({
      listen: '127.0.0.1:0',
      source: { uri: relay.uri },
      hooks: { route: () => 'source', records: () => false, beforeWrite: async () => undefined, afterWrite: async () => undefined },
      writeTimeoutMs: 10_000,
    });
    started.endpoint = endpoint;
    // What an application sees, through the endpoint (its own connection to it never breaks).
    const application = openCluster({ uri: endpoint.address });
    try {
      expect(await application.listCollections(DB)).toBeInstanceOf(Array);

      relay.down();
      // 12 s of calls while the source is away. gRPC's own schedule would try to connect after
      // about 1, 1.6, 2.6, 4.1, 6.6 s (each ±20%): a gap of 3.3 s at least by then.
      const outageEnds = Date.now() + 12_000;
      while (Date.now() < outageEnds) {
        await expect(application.listCollections(DB)).rejects.toMatchObject({ code: 'MILVUS_UNAVAILABLE' });
        await sleep(250);
      }
      const gaps = relay.refused.slice(1).map((t, i) => t - relay.refused[i]!);
      expect(relay.refused.length, `attempts ${gaps.join(', ')} ms apart`).toBeGreaterThanOrEqual(6);
      expect(Math.max(...gaps), `attempts ${gaps.join(', ')} ms apart`).toBeLessThanOrEqual(2_500);

      relay.up();
      const forwarded = await (async () => {
        for (let tries = 0; tries < 100; tries++) {
          if (await application.listCollections(DB).then(() => true, () => false)) return true;
          await sleep(100);
        }
        return false;
      })();
      expect(forwarded).toBe(true);
    } finally {
      await application.end();
    }
  }, 60_000);
});
