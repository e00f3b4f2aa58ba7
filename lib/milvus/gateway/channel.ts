import * as grpc from '@grpc/grpc-js';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';

/**
 * A raw gRPC channel beside the SDK client, with the client's address, TLS credentials (private CA
 * included), server name and headers (dbname, authorization). The columnar pass-through and the
 * row queries use it: identity (de)serializers, and none of the SDK's per-call overhead.
 */

export const QUERY = '/milvus.proto.milvus.MilvusService/Query';
export const INSERT = '/milvus.proto.milvus.MilvusService/Insert';
const identity = (b: Buffer): Buffer => b;
const FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;

/** What the SDK client holds and the raw channel reuses: address, TLS credentials (private CA included), server name override, header metadata. */
interface SdkInternals {
  config?: { address?: string };
  creds?: grpc.ChannelCredentials;
  channelOptions?: Record<string, unknown>;
  metadata?: Map<string, string>;
}

const SERVER_NAME_OVERRIDE = 'grpc.ssl_target_name_override';

/**
 * A channel option of our own, one value per gateway. grpc-js shares a connection (subchannel)
 * among every channel of the process with the same address and options, and keeps that
 * connection's reconnect backoff: a gateway opened anew after an outage would wait up to two
 * minutes behind its predecessor's backoff (measured: a new client 6.6 s after a 30 s outage,
 * failing with "No connection established. Last error: null" until then). With this option the
 * SDK clients and raw channels of one gateway share their connections, and a new gateway
 * connects at once.
 */
export const GATEWAY_CONNECTION_OPTION = 'milvus-migrate.gateway';

/** A raw gRPC channel with the SDK client's address, credentials and headers (dbname, authorization). */
export class RawMilvusChannel {
  private readonly client: grpc.Client;

  private readonly sdk: SdkInternals;

  constructor(sdkClient: MilvusClient) {
    const sdk = sdkClient as unknown as SdkInternals;
    this.sdk = sdk;
    const address = sdk.config!.address!.replace(/(http|https)*:\/\//, '');
    const serverName = sdk.channelOptions?.[SERVER_NAME_OVERRIDE];
    const connection = sdk.channelOptions?.[GATEWAY_CONNECTION_OPTION];
    this.client = new grpc.Client(address, sdk.creds!, {
      ...(typeof serverName === 'string' ? { [SERVER_NAME_OVERRIDE]: serverName } : {}),
      ...(typeof connection === 'string' ? { [GATEWAY_CONNECTION_OPTION]: connection } : {}),
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
      // HTTP/2's default 64 KiB window makes the server pause for a WINDOW_UPDATE every 64 KiB of
      // a multi-MB reply; a 16 MiB window cut the copier's CPU by a third (a 50,000-row 768-d copy; README, Copy throughput).
      'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
    });
  }

  /** Whether an SDK client exposes what a raw channel needs (the SDK is pinned; this guards an upgrade). */
  static supports(client: MilvusClient): boolean {
    const s = client as unknown as SdkInternals;
    return typeof s?.config?.address === 'string' && s.creds instanceof grpc.ChannelCredentials && s.metadata instanceof Map;
  }

  /** The dbname the SDK client sends, as the header carries it. */
  get dbName(): string {
    return this.sdk.metadata?.get('dbname') ?? 'default';
  }

  call(method: string, request: Buffer, timeoutMs: number): Promise<Buffer> {
    const metadata = new grpc.Metadata();
    for (const [key, value] of this.sdk.metadata ?? []) metadata.set(key, value);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(method, identity, identity, request, metadata, { deadline: Date.now() + timeoutMs }, (error, reply) => {
        if (error) reject(error);
        else resolve(reply ?? Buffer.alloc(0));
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
