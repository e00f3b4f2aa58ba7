import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { redactUri, type ClusterCredentials } from '../cluster';
import { closeRawChannel } from './columnar';

/** One Milvus deployment; a client per database, since the database travels in each call's `dbname` header. */
export interface MilvusCluster {
  client(db: string): MilvusClient;
  close(): Promise<void>;
  /** The uri without credentials, for messages. */
  readonly uri: string;
}

export interface OpenClusterOptions {
  /** Default deadline of every call, in ms. Batch reads and writes set their own. */
  timeoutMs?: number;
  /** The SDK's (process-wide, winston) log level; default 'warn' (it logs every request at debug). */
  logLevel?: string;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Clients are created lazily and cached per database; nothing connects until the first call. */
export function openCluster(creds: ClusterCredentials, options: OpenClusterOptions = {}): MilvusCluster {
  const clients = new Map<string, MilvusClient>();
  return {
    uri: redactUri(creds.uri),
    client(db: string): MilvusClient {
      let client = clients.get(db);
      if (!client) {
        client = new MilvusClient({
          address: creds.uri,
          token: creds.token,
          username: creds.username,
          password: creds.password,
          // A private CA replaces the system roots (and makes a bare host:port a TLS address); the
          // raw channel of columnar.ts reuses the credentials and the server name this builds.
          ...(creds.tls?.caCert || creds.tls?.serverName
            ? { tls: { ...(creds.tls.caCert ? { rootCert: Buffer.from(creds.tls.caCert) } : {}), ...(creds.tls.serverName ? { serverName: creds.tls.serverName } : {}) } }
            : {}),
          database: db,
          timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
          // The SDK otherwise sends a heartbeat every 10 s to the server.
          telemetry: { enabled: false },
          // The SDK would retry every call, inserts included, on UNAVAILABLE and other codes: an
          // insert the server applied before the connection dropped would then be written twice.
          // Retries are ours instead: idempotent calls in milvusCall (status.ts), writes by the
          // state machine's Retry of the step, which resumes from its checkpoint.
          maxRetries: 0,
          logLevel: options.logLevel ?? 'warn',
        });
        // The constructor starts a Connect call nobody awaits: an unreachable server would surface
        // as an unhandled rejection. Calls report the failure themselves.
        (client as unknown as { connectPromise?: Promise<unknown> }).connectPromise?.catch(() => undefined);
        clients.set(db, client);
      }
      return client;
    },
    async close(): Promise<void> {
      const all = [...clients.values()];
      clients.clear();
      for (const c of all) closeRawChannel(c);
      await Promise.all(all.map((c) => c.closeConnection().catch(() => undefined)));
    },
  };
}
