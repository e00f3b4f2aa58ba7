import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type { ClusterCredentials } from '../../lib/cluster';
import { MilvusGateway } from '../../lib/milvus/gateway';
import { TEST_CHANNEL_OPTIONS } from './channelOptions';

/**
 * A gateway for the code under test, plus SDK clients of the test's own (the application writing
 * to its cluster, setting up fixtures, checking rows), which the gateway never hands out.
 */
export class TestCluster extends MilvusGateway {
  readonly #sdkClients = new Map<string, MilvusClient>();
  readonly #credentials: ClusterCredentials;

  constructor(credentials: ClusterCredentials) {
    super(credentials);
    this.#credentials = credentials;
  }

  /** The test's own SDK client for a database. */
  client(db: string): MilvusClient {
    let client = this.#sdkClients.get(db);
    if (!client) {
      const c = this.#credentials;
      client = new MilvusClient({ address: c.uri, token: c.token, username: c.username, password: c.password, database: db, telemetry: { enabled: false }, logLevel: 'warn', channelOptions: TEST_CHANNEL_OPTIONS } as never);
      this.#sdkClients.set(db, client);
    }
    return client;
  }

  override async end(): Promise<void> {
    const clients = [...this.#sdkClients.values()];
    this.#sdkClients.clear();
    await Promise.all([super.end(), ...clients.map((c) => c.closeConnection().catch(() => undefined))]);
  }
}

export const testCluster = (credentials: ClusterCredentials): TestCluster => new TestCluster(credentials);
