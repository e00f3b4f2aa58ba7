import { MilvusClient, promisify } from '@zilliz/milvus2-sdk-node';
import { expect } from 'vitest';
import { TEST_CHANNEL_OPTIONS } from './channelOptions';

/** Asserts a Milvus reply (or its status) is a success, naming the server's reason when it is not. */
export async function ok<T>(reply: Promise<T>): Promise<T> {
  const r: any = await reply;
  const status = r?.status ?? r;
  expect(status?.code ?? 0, status?.reason).toBe(0);
  expect(status?.error_code ?? 'Success', status?.reason).toBe('Success');
  return r;
}

/** SDK clients a test file opens (quiet, no telemetry), closed together in its afterAll. */
export function trackedClients() {
  const clients: MilvusClient[] = [];
  return {
    client(uri: string, database?: string): MilvusClient {
      const c = new MilvusClient({ address: uri, database, telemetry: { enabled: false }, logLevel: 'warn', channelOptions: TEST_CHANNEL_OPTIONS } as never);
      clients.push(c);
      return c;
    },
    async closeAll(): Promise<void> {
      await Promise.all(clients.splice(0).map((c) => c.closeConnection()));
    },
  };
}

/** A gRPC method by name through a test's own SDK client (for calls the SDK does not wrap). */
export function grpcCall<T = any>(client: MilvusClient, method: string, request: object): Promise<T> {
  return promisify(client.channelPool, method, request, 30_000);
}
