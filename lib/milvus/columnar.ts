import * as grpc from '@grpc/grpc-js';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { PermanentError } from '../errors';
import { DEFAULT_BATCH_TIMEOUT_MS, type Batch, type BatchSink, type BatchSource, type ReadRequest } from './batch';
import { pkRangeFilter } from './filter';
import {
  encodeInsertRequest,
  encodeQueryRequest,
  parseMutationResult,
  parseQueryResults,
  primaryKeyColumn,
  type RawFieldData,
} from './protoWire';
import { ALLOW_INSERT_AUTO_ID } from './translate';
import { copiedFields, DYNAMIC_FIELD, primaryField, type CollectionSpec, type FieldSpec } from './spec';
import { assertOk, milvusCall, toMigrationError } from './status';

/**
 * The columnar pass-through: Query and Insert called with identity (de)serializers, the query
 * result's FieldData bytes spliced into the insert request. Only the status, the primary key
 * column (row count, last key) and the insert reply are decoded; vectors, JSON, arrays, sparse
 * rows, valid_data and the dynamic `$meta` column travel as the bytes the source sent.
 */

const QUERY = '/milvus.proto.milvus.MilvusService/Query';
const INSERT = '/milvus.proto.milvus.MilvusService/Insert';
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

/** A raw gRPC channel with the SDK client's address, credentials and headers (dbname, authorization). */
export class RawMilvusChannel {
  private readonly client: grpc.Client;

  constructor(private readonly sdk: SdkInternals) {
    const address = sdk.config!.address!.replace(/(http|https)*:\/\//, '');
    const serverName = sdk.channelOptions?.[SERVER_NAME_OVERRIDE];
    this.client = new grpc.Client(address, sdk.creds!, {
      ...(typeof serverName === 'string' ? { [SERVER_NAME_OVERRIDE]: serverName } : {}),
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

const channels = new WeakMap<MilvusClient, RawMilvusChannel>();

/** The raw channel of an SDK client, created once; closeRawChannel ends it with the client. */
export function rawChannel(client: MilvusClient): RawMilvusChannel {
  let channel = channels.get(client);
  if (!channel) {
    channel = new RawMilvusChannel(client as unknown as SdkInternals);
    channels.set(client, channel);
  }
  return channel;
}

export function closeRawChannel(client: MilvusClient): void {
  channels.get(client)?.close();
  channels.delete(client);
}

/**
 * One raw call. A Query is idempotent: a dropped connection or a deadline is tried again here
 * (status.ts's bounded backoff), or one fault in thousands of reads would fail the whole step.
 * An Insert is not: its retry is the step's, which first clears what a lost write left.
 */
async function rawCall(channel: RawMilvusChannel, method: string, request: Buffer, timeoutMs: number, what: string): Promise<Buffer> {
  try {
    return await milvusCall(what, () => channel.call(method, request, timeoutMs), { idempotent: method === QUERY });
  } catch (error) {
    throw toMigrationError(error, what);
  }
}

export interface ColumnarPayload {
  fields: RawFieldData[];
}

/** Reads a PK range as raw FieldData columns. */
export class ColumnarBatchSource implements BatchSource<ColumnarPayload> {
  private readonly pk: FieldSpec;
  private readonly outputFields: string[];
  private readonly wanted: Set<string>;
  private readonly channel: RawMilvusChannel;

  constructor(
    client: MilvusClient,
    private readonly spec: CollectionSpec,
    private readonly timeoutMs = DEFAULT_BATCH_TIMEOUT_MS,
    /** Read only this partition. */
    private readonly partition?: string,
  ) {
    this.channel = rawChannel(client);
    this.pk = primaryField(spec);
    // Function outputs (BM25) are never requested: the target regenerates them.
    this.outputFields = [...copiedFields(spec).map((f) => f.name), ...(spec.enableDynamicField ? [DYNAMIC_FIELD] : [])];
    this.wanted = new Set(copiedFields(spec).map((f) => f.name));
  }

  async read({ afterPk, upperInclusive, offset = 0, limit }: ReadRequest): Promise<Batch<ColumnarPayload>> {
    const what = `read ${this.spec.name}`;
    const filter = pkRangeFilter(this.pk, afterPk, upperInclusive);
    const request = encodeQueryRequest({
      dbName: this.channel.dbName,
      collectionName: this.spec.name,
      expr: filter,
      outputFields: this.outputFields,
      limit,
      offset,
      partition: this.partition,
    });
    const raw = await rawCall(this.channel, QUERY, request, this.timeoutMs, what);
    const reply = parseQueryResults(raw);
    if (/HasRawData|loss raw data/.test(reply.status.reason ?? '') && (await this.isEmpty(filter))) {
      // milvus-lite fails a query outputting an indexed sparse field when the range holds no row.
      return { rowCount: 0, lastPk: null, bytes: 0, payload: { fields: [] } };
    }
    assertOk(reply.status, what);
    const fields = reply.fields.filter((f) => f.isDynamic || this.wanted.has(f.name));
    const pkColumn = fields.find((f) => f.name === this.pk.name && !f.isDynamic);
    if (!pkColumn) {
      if (reply.fields.length === 0) return { rowCount: 0, lastPk: null, bytes: raw.length, payload: { fields: [] } };
      throw new PermanentError('MILVUS_REPLY', `${what}: the reply has no ${this.pk.name} column`);
    }
    const { count, last } = primaryKeyColumn(pkColumn);
    return { rowCount: count, lastPk: last, bytes: raw.length, payload: { fields: count > 0 ? fields : [] } };
  }

  private async isEmpty(filter: string): Promise<boolean> {
    const what = `probe ${this.spec.name}`;
    const request = encodeQueryRequest({ dbName: this.channel.dbName, collectionName: this.spec.name, expr: filter, outputFields: [this.pk.name], limit: 1, offset: 0, partition: this.partition });
    const reply = parseQueryResults(await rawCall(this.channel, QUERY, request, this.timeoutMs, what));
    assertOk(reply.status, what);
    const pkColumn = reply.fields.find((f) => f.name === this.pk.name);
    return !pkColumn || primaryKeyColumn(pkColumn).count === 0;
  }
}

/** Writes raw FieldData columns as one insert request. */
export class ColumnarBatchSink implements BatchSink<ColumnarPayload> {
  private readonly channel: RawMilvusChannel;
  private readonly pkName: string;

  constructor(
    client: MilvusClient,
    private readonly spec: CollectionSpec,
    private readonly timeoutMs = DEFAULT_BATCH_TIMEOUT_MS,
    /** Write into this partition. */
    private readonly partition?: string,
    /** The target generates its keys (a mapping set autoID): the primary key column is not sent. */
    private readonly discardKeys = false,
  ) {
    const pk = primaryField(spec);
    this.pkName = pk.name;
    if (pk.autoId && spec.properties[ALLOW_INSERT_AUTO_ID] !== 'true' && !discardKeys) {
      // The server would drop or refuse the source's keys; translateSchema never creates such a target.
      throw new PermanentError('AUTO_ID_TARGET', `${spec.name}: the target generates its primary keys (autoID) and would not keep the source's`);
    }
    this.channel = rawChannel(client);
  }

  async write(batch: Batch<ColumnarPayload>): Promise<void> {
    if (batch.rowCount === 0) return;
    const what = `write ${batch.rowCount} rows to ${this.spec.name}`;
    const fields = this.discardKeys ? batch.payload.fields.filter((f) => f.isDynamic || f.name !== this.pkName) : batch.payload.fields;
    const request = encodeInsertRequest(this.channel.dbName, this.spec.name, fields, batch.rowCount, this.partition);
    const reply = parseMutationResult(await rawCall(this.channel, INSERT, request, this.timeoutMs, what));
    assertOk(reply.status, what);
    if (reply.insertCount !== batch.rowCount || reply.errIndexCount > 0) {
      throw new PermanentError('INSERT_INCOMPLETE', `${what}: the target accepted ${reply.insertCount}`);
    }
  }
}

/** Whether the columnar path can serve these clients (otherwise the row path does). */
export function columnarSupported(sourceClient: MilvusClient, targetClient: MilvusClient): boolean {
  return RawMilvusChannel.supports(sourceClient) && RawMilvusChannel.supports(targetClient);
}
