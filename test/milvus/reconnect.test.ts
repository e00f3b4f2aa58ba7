import net from 'node:net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CaptureProxy } from '../../lib/milvus/gateway/captureProxy';
import { sleep } from '../../lib/milvus/backoff';
import { setCallRetryPolicy } from '../../lib/milvus/gateway/calls';
import { openCluster, startCaptureProxy } from '../../lib/milvus/gateway';
import { DB } from './helpers';

/**
 * Reconnecting after an outage. grpc-js keeps a lost connection's reconnect backoff (doubling up
 * to two minutes) and fails calls at once meanwhile ("No connection established"). A TCP relay in
 * front of milvus-lite makes the outage: it refuses connections, then relays again at once.
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

const started: { relay?: Relay; endpoint?: CaptureProxy } = {};

afterAll(async () => {
  setCallRetryPolicy();
  await started.endpoint?.close();
  await started.relay?.stop();
});

describe('the capture endpoint after its source went away', () => {
  it("tries its source again every second or so, not on gRPC's backoff of up to two minutes, and forwards once it is back", async () => {
    setCallRetryPolicy({ attempts: 1 });
    const relay = await startRelay(inject('milvusTargetUri'));
    started.relay = relay;
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
