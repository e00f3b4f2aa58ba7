import { randomUUID } from 'node:crypto';
import { LoadState, MilvusClient, OperatePrivilegeType, OperateUserRoleType, logger as sdkLogger, promisify } from '@zilliz/milvus2-sdk-node';
import { PermanentError, TransientError } from '../../errors';
import { redactUri, type ClusterCredentials } from '../../cluster';
import type { CollectionSpec, IndexSpec } from '../spec';
import { assertOk, isStatusOk, statusCode, statusOf, statusToError, toMigrationError, type MilvusStatus } from '../status';
import { call, checkedCall, idempotentWrite, onceOnly, read, type Operation } from './calls';
import { GATEWAY_CONNECTION_OPTION, INSERT, QUERY, RawMilvusChannel } from './channel';
import { encodeInsertRequest, encodeQueryRequest, parseMutationResult, parseQueryResults, type QueryReply, type RawFieldData } from './protoWire';
import { decodeRows, encodeRowQuery, readTransformers, writeTransformers, type Row, type RowQueryRequest } from './rowCodec';
import { createCollectionRequest } from './schemaRequest';
import { versionAtLeast } from '../version';

/**
 * The one way into a Milvus cluster. Every call the service makes is a typed method here, and
 * each declares whether it may be sent again after a failure of unknown outcome (calls.ts:
 * `read`, `idempotentWrite`, `onceOnly`). The SDK clients (one per database, since the database
 * travels in each call's `dbname` header) and the raw gRPC channels are private to it.
 *
 * What a server can do is probed once per cluster (capabilities()): its version, whether it has
 * databases, whether an autoID collection keeps explicit keys, whether the raw channel works.
 * Quirks of servers are answered here, in the method concerned, not at its callers: milvus-lite
 * answers UNIMPLEMENTED (the SDK turns it into `{}`) for databases, partitions, aliases, RBAC,
 * replicas and versions; fails a query that outputs an indexed sparse field when the range holds
 * no row; says true to HasCollection for a missing collection.
 *
 * Modelled on milvus-backup's single typed gRPC interface (internal/client/milvus/grpc.go).
 */

export interface OpenClusterOptions {
  /** Default deadline of every call, in ms. Batch reads and writes set their own. */
  timeoutMs?: number;
  /** The SDK's (process-wide, winston) log level; default 'warn' (it logs every request at debug). */
  logLevel?: string;
  /** Held by a ClusterPool: close() leaves it open for the next step, end() closes it. */
  pooled?: boolean;
}

export interface ClusterCapabilities {
  /** The server's version; undefined when it does not say (milvus-lite). */
  version?: string;
  /** The server has databases (ListDatabases answers). */
  databases: boolean;
  /** An autoID collection keeps explicit keys when allow_insert_auto_id is set (Milvus >= 2.6). */
  explicitAutoIdKeys: boolean;
}

/** The raw DescribeCollection reply (schema in proto field names); catalog.ts reads it into a CollectionSpec. */
export interface DescribedCollection {
  schema: { name?: string; description?: string; fields: any[]; functions?: any[]; enable_dynamic_field?: boolean; autoID?: boolean; struct_array_fields?: any[]; [key: string]: unknown };
  collectionID?: string;
  collection_name?: string;
  shards_num?: number;
  num_partitions?: string | number;
  consistency_level?: string;
  properties?: { key: string; value: string }[];
  aliases?: string[];
  [key: string]: unknown;
}

/** One index as DescribeIndex gives it. */
export interface DescribedIndex {
  field_name: string;
  index_name: string;
  params: { key: string; value: string }[];
  state?: string;
  pending_index_rows?: string | number;
  index_state_fail_reason?: string;
}

/** A query of key-ordered rows or columns of a range. */
export interface RangeQuery extends RowQueryRequest {
  /** The primary key field (an empty range is probed by its keys). */
  pkField: string;
  timeoutMs: number;
}

export interface RbacReply {
  status?: MilvusStatus;
  [key: string]: any;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_DB = 'default';
const COLLECTION_NOT_FOUND = 100;
const INDEX_NOT_FOUND = 700;
/** milvus-lite's answer to a query outputting an indexed sparse field over an empty range. */
const LITE_EMPTY_SPARSE = /HasRawData|loss raw data/;

const isUnimplemented = (error: unknown) => error instanceof PermanentError && error.code === 'MILVUS_UNIMPLEMENTED';

export class MilvusGateway {
  /** The uri without credentials, for messages. */
  readonly uri: string;
  readonly #credentials: ClusterCredentials;
  readonly #options: OpenClusterOptions;
  readonly #clients = new Map<string, MilvusClient>();
  readonly #channels = new Map<string, RawMilvusChannel>();
  #capabilities: Promise<ClusterCapabilities> | undefined;
  #unreachable = false;
  /** This gateway's own connections (channel.ts, GATEWAY_CONNECTION_OPTION). */
  readonly #connection = randomUUID();

  /** Clients are created lazily and cached per database; nothing connects until the first call. */
  constructor(credentials: ClusterCredentials, options: OpenClusterOptions = {}) {
    this.#credentials = credentials;
    this.#options = options;
    this.uri = redactUri(credentials.uri);
  }

  /** Ends the connections; a pooled gateway stays open for its pool (which calls end()). */
  async close(): Promise<void> {
    if (!this.#options.pooled) await this.end();
  }

  /**
   * The cluster could not be reached through these connections: a pool hands out a new gateway
   * from now on. gRPC waits longer and longer between reconnects to a server that went away, so a
   * step retried once the server is back would otherwise fail again on the old connections.
   */
  markUnreachable(): void {
    this.#unreachable = true;
  }

  get unreachable(): boolean {
    return this.#unreachable;
  }

  async end(): Promise<void> {
    const clients = [...this.#clients.values()];
    for (const channel of this.#channels.values()) channel.close();
    this.#clients.clear();
    this.#channels.clear();
    await Promise.all(clients.map((c) => c.closeConnection().catch(() => undefined)));
  }

  // ------------------------------------------------------------------------------------------
  // Capabilities
  // ------------------------------------------------------------------------------------------

  /** Probed once per gateway (two calls); a failed probe is tried again next time. */
  capabilities(): Promise<ClusterCapabilities> {
    this.#capabilities ??= this.#probe().catch((error: unknown) => {
      this.#capabilities = undefined;
      throw error;
    });
    return this.#capabilities;
  }

  async #probe(): Promise<ClusterCapabilities> {
    const client = this.#sdk(DEFAULT_DB);
    // One after the other: a cluster that refuses the credentials is asked once, not twice.
    const databasesReply = await call(read('list databases'), () => client.listDatabases());
    // UNIMPLEMENTED answers {}: no db_names at all.
    const databases = Array.isArray((databasesReply as { db_names?: unknown })?.db_names);
    if (databases) assertOk(databasesReply, 'list databases');
    else {
      // A refusal that says something (credentials, permissions, an unavailable server) ends the
      // probe; a server without databases may answer with any other failure.
      const status = statusOf(databasesReply);
      const refusal = status && !isStatusOk(status) ? statusToError(status, 'list databases') : undefined;
      if (refusal && refusal.code !== 'MILVUS_REFUSED') throw refusal;
    }
    const versionReply = await call(read('get server version'), () => client.getVersion());
    const version = typeof (versionReply as { version?: unknown })?.version === 'string' ? (versionReply as { version: string }).version : undefined;
    return { ...(version ? { version } : {}), databases, explicitAutoIdKeys: version !== undefined && versionAtLeast(version, 2, 6) };
  }

  // ------------------------------------------------------------------------------------------
  // Databases
  // ------------------------------------------------------------------------------------------

  /** The databases; `default` alone on a server without databases. */
  async listDatabases(): Promise<string[]> {
    if (!(await this.capabilities()).databases) return [DEFAULT_DB];
    const reply = await checkedCall(read('list databases'), () => this.#sdk(DEFAULT_DB).listDatabases());
    return [...reply.db_names];
  }

  /** A database's properties; {} on a server without databases. */
  async describeDatabase(db: string): Promise<Record<string, string>> {
    if (!(await this.capabilities()).databases) return {};
    const what = `describe database ${db}`;
    let reply: any;
    try {
      reply = await this.#grpc(read(what), DEFAULT_DB, 'DescribeDatabase', { db_name: db });
    } catch (error) {
      if (isUnimplemented(error)) return {};
      throw error;
    }
    if (!statusOf(reply)) return {};
    assertOk(reply, what);
    return kvRecord(reply.properties);
  }

  /** Creates a database; one that exists once the call fails (an earlier try) counts as created. */
  async createDatabase(db: string, properties: Record<string, string>): Promise<void> {
    const what = `create database ${db}`;
    if (!(await this.capabilities()).databases) throw new PermanentError('TARGET_HAS_NO_DATABASES', `${what}: the target cluster has no databases (milvus-lite?)`);
    const reply = await this.#grpc(onceOnly(what), DEFAULT_DB, 'CreateDatabase', { db_name: db, properties: Object.entries(properties).map(([key, value]) => ({ key, value })) });
    if (isStatusOk(statusOf(reply) ?? { code: 1 })) return;
    if ((await this.listDatabases()).includes(db)) return;
    assertOk(reply, what);
  }

  // ------------------------------------------------------------------------------------------
  // Collections: catalog
  // ------------------------------------------------------------------------------------------

  async listCollections(db: string): Promise<string[]> {
    const reply = await checkedCall(read(`list collections of ${db}`), () => this.#sdk(db).showCollections());
    return reply.data.map((c) => c.name).sort();
  }

  /**
   * The raw description, or null when the collection does not exist. Raw, because the SDK's
   * describeCollection formats the reply before checking milvus-lite's status, and throws a
   * TypeError for a missing collection.
   */
  async describeCollection(db: string, name: string): Promise<DescribedCollection | null> {
    const what = `describe ${db}.${name}`;
    const reply: any = await this.#grpc(read(what), db, 'DescribeCollection', { collection_name: name, db_name: db });
    const status = statusOf(reply);
    if (status && statusCode(status) === COLLECTION_NOT_FOUND) return null;
    assertOk(reply, what);
    if (!reply.schema?.fields) throw new PermanentError('MILVUS_UNIMPLEMENTED', `${what}: the reply has no schema`);
    return reply as DescribedCollection;
  }

  /** The collection's partitions; null when the server cannot list them (milvus-lite: `_default` only). */
  async listPartitions(db: string, name: string): Promise<string[] | null> {
    const what = `list partitions of ${db}.${name}`;
    let reply: any;
    try {
      reply = await this.#grpc(read(what), db, 'ShowPartitions', { collection_name: name, db_name: db });
    } catch (error) {
      if (isUnimplemented(error)) return null;
      throw error;
    }
    const status = statusOf(reply);
    if (!status) return null;
    assertOk(reply, what);
    return Array.isArray(reply.partition_names) ? reply.partition_names.map(String) : null;
  }

  /** The aliases naming the collection; null when the server cannot list them (or this user may not). */
  async listAliases(db: string, name: string): Promise<string[] | null> {
    const what = `list aliases of ${db}.${name}`;
    let reply: any;
    try {
      reply = await this.#grpc(read(what), db, 'ListAliases', { collection_name: name, db_name: db });
    } catch (error) {
      if (error instanceof PermanentError && (error.code === 'MILVUS_UNIMPLEMENTED' || error.code === 'MILVUS_PERMISSION_DENIED')) return null;
      throw error;
    }
    const status = statusOf(reply);
    if (!status) return null;
    if (!isStatusOk(status)) {
      const error = statusToError(status, what);
      if (error.code === 'MILVUS_PERMISSION_DENIED') return null;
      throw error;
    }
    return Array.isArray(reply.aliases) ? reply.aliases.map(String) : null;
  }

  /** The collection an alias names, if the server says. */
  async describeAlias(db: string, alias: string): Promise<string | undefined> {
    const reply: any = await call(read(`describe alias ${alias} of ${db}`), () => this.#sdk(db).describeAlias({ alias } as never)).catch(() => undefined);
    return typeof reply?.collection === 'string' && reply.collection ? reply.collection : undefined;
  }

  /** The database's bulk import tasks; null when the server cannot list them (or this user may not). */
  async listImportTasks(db: string): Promise<unknown[] | null> {
    const what = `list import tasks of ${db}`;
    const cannotList = (error: unknown) => error instanceof PermanentError && ['MILVUS_UNIMPLEMENTED', 'MILVUS_PERMISSION_DENIED', 'MILVUS_REFUSED'].includes(error.code);
    let reply: any;
    try {
      reply = await this.#grpc(read(what), db, 'ListImportTasks', { collection_name: '', limit: 0, db_name: db });
    } catch (error) {
      if (cannotList(error)) return null;
      throw error;
    }
    const status = statusOf(reply);
    if (!status) return null;
    if (!isStatusOk(status)) {
      const error = statusToError(status, what);
      if (cannotList(error)) return null;
      throw error;
    }
    return Array.isArray(reply.tasks) ? reply.tasks : [];
  }

  /** The collection's indexes; [] when it has none (Milvus answers IndexNotExist, code 700). */
  async describeIndexes(db: string, name: string): Promise<DescribedIndex[]> {
    const what = `describe indexes of ${db}.${name}`;
    const reply = await call(read(what), () => this.#sdk(db).describeIndex({ collection_name: name }));
    const status = statusOf(reply);
    if (status && !isStatusOk(status) && (statusCode(status) === INDEX_NOT_FOUND || /index not (exist|found)/i.test(status.reason ?? ''))) return [];
    assertOk(reply, what);
    return (reply.index_descriptions ?? []) as unknown as DescribedIndex[];
  }

  // ------------------------------------------------------------------------------------------
  // Collections: lifecycle
  // ------------------------------------------------------------------------------------------

  /** Creates the collection (schema, functions, properties, shards, consistency); not sent twice. */
  async createCollection(db: string, spec: CollectionSpec): Promise<void> {
    await checkedCall(onceOnly(`create ${db}.${spec.name}`), () => this.#sdk(db).createCollection(createCollectionRequest(spec) as never));
  }

  async hasPartition(db: string, collection: string, partition: string): Promise<boolean> {
    const reply = await checkedCall(read(`has partition ${partition} of ${db}.${collection}`), () => this.#sdk(db).hasPartition({ collection_name: collection, partition_name: partition }));
    return Boolean(reply.value);
  }

  async createPartition(db: string, collection: string, partition: string): Promise<void> {
    await checkedCall(onceOnly(`create partition ${partition} of ${db}.${collection}`), () => this.#sdk(db).createPartition({ collection_name: collection, partition_name: partition }));
  }

  /** Points an alias at the collection; the server's status, for the caller to tell a conflict. */
  async createAlias(db: string, collection: string, alias: string): Promise<MilvusStatus> {
    const reply = await call(onceOnly(`create alias ${alias} for ${db}.${collection}`), () => this.#sdk(db).createAlias({ collection_name: collection, alias }));
    return statusOrUnimplemented(reply, `create alias ${alias} for ${db}.${collection}`);
  }

  async dropAlias(db: string, alias: string): Promise<void> {
    await checkedCall(idempotentWrite(`drop alias ${alias} of ${db}`), () => this.#sdk(db).dropAlias({ alias } as never));
  }

  /** Drops the collection; a missing one (an earlier try dropped it) is fine. */
  async dropCollection(db: string, name: string): Promise<void> {
    const what = `drop ${db}.${name}`;
    const reply = await call(idempotentWrite(what), () => this.#sdk(db).dropCollection({ collection_name: name }));
    const status = statusOf(reply);
    if (status && statusCode(status) === COLLECTION_NOT_FOUND) return;
    assertOk(reply, what);
  }

  /** Asks for an index; the server's status, for the caller to read a refusal (milvus-lite names the type it takes instead). */
  async createIndex(db: string, collection: string, index: IndexSpec): Promise<MilvusStatus> {
    const what = `create index on ${db}.${collection}.${index.fieldName}`;
    const reply = await call(onceOnly(what), () =>
      this.#sdk(db).createIndex({
        collection_name: collection,
        field_name: index.fieldName,
        index_name: index.indexName,
        // Params go as they were described (strings, or a JSON `params` blob) rather than re-encoded.
        extra_params: { index_type: index.indexType, ...(index.metricType ? { metric_type: index.metricType } : {}), ...index.params } as never,
      }),
    );
    return statusOrUnimplemented(reply, what);
  }

  /** 'LoadStateLoaded', 'LoadStateLoading', 'LoadStateNotLoad'; COLLECTION_NOT_FOUND for a missing collection. */
  async loadState(db: string, name: string): Promise<string> {
    const reply = await checkedCall(read(`load state of ${db}.${name}`), () => this.#sdk(db).getLoadState({ collection_name: name }));
    if (reply.state === LoadState.LoadStateNotExist) throw new PermanentError('COLLECTION_NOT_FOUND', `${db}.${name} does not exist`);
    return String(reply.state);
  }

  /**
   * Asks the cluster to load the collection (with this many replicas) and returns at once
   * (loadState tells when it is done; the SDK's loadCollection checks error_code only). The
   * server's status, for the caller to read a refusal.
   */
  async loadCollection(db: string, name: string, replicas?: number): Promise<MilvusStatus> {
    const what = `load ${db}.${name}${replicas ? ` with ${replicas} replica(s)` : ''}`;
    const reply = await call(idempotentWrite(what), () => this.#sdk(db).loadCollectionAsync({ collection_name: name, ...(replicas ? { replica_number: replicas } : {}) }));
    return statusOrUnimplemented(reply, what);
  }

  async releaseCollection(db: string, name: string): Promise<void> {
    const what = `release ${db}.${name}`;
    assertOk(statusOrUnimplemented(await call(idempotentWrite(what), () => this.#sdk(db).releaseCollection({ collection_name: name })), what), what);
  }

  /** The replicas the collection is loaded with; undefined when it is not loaded or the server cannot tell. */
  async replicas(db: string, name: string): Promise<number | undefined> {
    // GetReplicas takes a collection id (older servers take nothing else); newer ones also take the name.
    const described = await this.describeCollection(db, name);
    const id = described?.collectionID;
    const reply: any = await this.#grpc(read(`get replicas of ${db}.${name}`), db, 'GetReplicas', {
      collection_name: name,
      db_name: db,
      ...(id !== undefined && id !== '0' ? { collectionID: id } : {}),
    }).catch(() => undefined);
    const status = statusOf(reply);
    if (!status || !isStatusOk(status) || !Array.isArray(reply.replicas) || reply.replicas.length === 0) return undefined;
    return reply.replicas.length;
  }

  /** Seals the collection's growing segments; best effort (Milvus rate-limits flush; Strong reads see every acknowledged write anyway). */
  async flush(db: string, name: string): Promise<void> {
    await call(idempotentWrite(`flush ${db}.${name}`), () => this.#sdk(db).flushSync({ collection_names: [name] })).catch(() => undefined);
  }

  // ------------------------------------------------------------------------------------------
  // Rows
  // ------------------------------------------------------------------------------------------

  /** count(*) with Strong consistency (which sees every acknowledged write), of a filter and partition if given. */
  async count(db: string, collection: string, options: { filter?: string; partition?: string; what?: string } = {}): Promise<number> {
    const what = options.what ?? `count ${db}.${collection}`;
    const reply = await checkedCall(read(what), () =>
      this.#sdk(db).query({
        collection_name: collection,
        filter: options.filter ?? '',
        output_fields: ['count(*)'],
        ...(options.partition ? { partition_names: [options.partition] } : {}),
        consistency_level: 'Strong' as never,
      }),
    );
    const value = reply.data?.[0]?.['count(*)'];
    if (value === undefined) throw new PermanentError('MILVUS_UNIMPLEMENTED', `${what}: no count in the reply`);
    return Number(value);
  }

  /** Primary keys matching the filter (Strong), as strings, at most `limit` after `offset`. */
  async queryKeys(db: string, collection: string, q: { pkField: string; filter: string; limit: number; offset?: number; partition?: string; what?: string }): Promise<string[]> {
    const what = q.what ?? `read keys of ${db}.${collection}`;
    const reply = await checkedCall(read(what), () =>
      this.#sdk(db).query({
        collection_name: collection,
        filter: q.filter,
        ...(q.partition ? { partition_names: [q.partition] } : {}),
        output_fields: [q.pkField],
        ...(q.offset ? { offset: q.offset } : {}),
        limit: q.limit,
        consistency_level: 'Strong' as never,
      }),
    );
    return (reply.data ?? []).map((row: Record<string, unknown>) => String(row[q.pkField]));
  }

  /** Rows of a range as `client.query()` gives them (Strong); a batch read of the key-range engine. */
  async queryRows(db: string, q: RangeQuery): Promise<Row[]> {
    const what = `read ${q.collection}`;
    const channel = this.#channel(db);
    const reply = await call(read(what, true), async () =>
      channel
        ? decodeRows(await channel.call(QUERY, encodeRowQuery(q), q.timeoutMs))
        : ((await this.#sdk(db).query({
            collection_name: q.collection,
            filter: q.filter,
            output_fields: q.outputFields,
            ...(q.partition ? { partition_names: [q.partition] } : {}),
            ...(q.offset ? { offset: q.offset } : {}),
            limit: q.limit,
            transformers: readTransformers,
            consistency_level: 'Strong',
            timeout: q.timeoutMs,
          } as never)) as unknown as { status: MilvusStatus; data: Row[] }),
    );
    if (LITE_EMPTY_SPARSE.test(reply.status?.reason ?? '') && (await this.#rangeIsEmpty(db, q))) return [];
    assertOk(reply, what);
    return reply.data;
  }

  /**
   * A range's columns as raw FieldData (the columnar pass-through, channel.ts); a batch read.
   * Null when the raw channel cannot serve this cluster (the caller reads rows instead).
   */
  async queryColumns(db: string, q: RangeQuery): Promise<(QueryReply & { bytes: number }) | null> {
    const channel = this.#channel(db);
    if (!channel) return null;
    const what = `read ${q.collection}`;
    const request = encodeQueryRequest({ dbName: channel.dbName, collectionName: q.collection, expr: q.filter, outputFields: q.outputFields, limit: q.limit, offset: q.offset ?? 0, partition: q.partition });
    const raw = await call(read(what, true), () => channel.call(QUERY, request, q.timeoutMs));
    const reply = parseQueryResults(raw);
    if (LITE_EMPTY_SPARSE.test(reply.status.reason ?? '') && (await this.#rangeIsEmpty(db, q))) return { status: reply.status, fields: [], bytes: 0 };
    assertOk(reply.status, what);
    return { ...reply, bytes: raw.length };
  }

  /** Whether the raw channel (columnar pass-through) can serve this cluster. */
  supportsColumns(): boolean {
    return RawMilvusChannel.supports(this.#sdk(DEFAULT_DB));
  }

  /** Inserts raw FieldData columns: a batch write, never sent twice; every row must be accepted. */
  async insertColumns(db: string, w: { collection: string; fields: RawFieldData[]; rowCount: number; partition?: string; timeoutMs: number }): Promise<void> {
    const channel = this.#channel(db);
    if (!channel) throw new PermanentError('MILVUS_CLIENT_ERROR', `write to ${w.collection}: the raw channel is not available`);
    const what = `write ${w.rowCount} rows to ${w.collection}`;
    const request = encodeInsertRequest(channel.dbName, w.collection, w.fields, w.rowCount, w.partition);
    const reply = parseMutationResult(await call(onceOnly(what, true), () => channel.call(INSERT, request, w.timeoutMs)));
    assertOk(reply.status, what);
    if (reply.insertCount !== w.rowCount || reply.errIndexCount > 0) throw new PermanentError('INSERT_INCOMPLETE', `${what}: the target accepted ${reply.insertCount}`);
  }

  /**
   * Inserts rows (never sent twice) or upserts them (the same rows twice leave the same state);
   * a batch write: every row must be accepted. Every field is sent: milvus-lite crashes when a
   * defaulted field is omitted.
   */
  async writeRows(db: string, w: { collection: string; rows: Row[]; mode: 'insert' | 'upsert'; partition?: string; timeoutMs: number }): Promise<void> {
    const what = `write ${w.rows.length} row(s) (${w.mode}) to ${db}.${w.collection}${w.partition ? ` partition ${w.partition}` : ''}`;
    const request = {
      collection_name: w.collection,
      ...(w.partition ? { partition_name: w.partition } : {}),
      data: w.rows as never,
      transformers: writeTransformers as never,
      timeout: w.timeoutMs,
    };
    const client = this.#sdk(db);
    const op = w.mode === 'upsert' ? idempotentWrite(what, true) : onceOnly(what, true);
    const reply: any = await checkedCall(op, () => (w.mode === 'upsert' ? client.upsert(request) : client.insert(request)));
    const written = Number((w.mode === 'insert' ? reply.insert_cnt : (reply.upsert_cnt ?? reply.insert_cnt)) ?? reply.succ_index?.length ?? 0);
    if (written !== w.rows.length || reply.err_index?.length) throw new PermanentError('INSERT_INCOMPLETE', `${what}: the target accepted ${written}`);
  }

  /** Deletes the rows a filter matches (Strong): sending it twice deletes nothing more. */
  async deleteRows(db: string, d: { collection: string; filter: string; partition?: string; timeoutMs?: number; what?: string }): Promise<void> {
    const what = d.what ?? `delete from ${db}.${d.collection}`;
    await checkedCall(idempotentWrite(what), () =>
      this.#sdk(db).delete({
        collection_name: d.collection,
        filter: d.filter,
        ...(d.partition ? { partition_name: d.partition } : {}),
        consistency_level: 'Strong' as never,
        ...(d.timeoutMs ? { timeout: d.timeoutMs } : {}),
      } as never),
    );
  }

  // ------------------------------------------------------------------------------------------
  // Access control (cluster-wide: users, roles, memberships; grants per database)
  // ------------------------------------------------------------------------------------------

  /** Raw replies: an empty `{}` (UNIMPLEMENTED) means the server has no RBAC, which rbac.ts tells from a failure. */
  listUsers(): Promise<RbacReply> {
    return this.#grpc(read('list users'), DEFAULT_DB, 'ListCredUsers', {});
  }

  listRoles(): Promise<RbacReply> {
    return this.#grpc(read('list roles'), DEFAULT_DB, 'SelectRole', { include_user_info: false });
  }

  /** Every user with its roles (and its description on 2.6+). */
  describeUsers(): Promise<RbacReply> {
    return this.#grpc(read('describe users'), DEFAULT_DB, 'SelectUser', { include_role_info: true });
  }

  /** Every grant of the role, in every database. */
  listGrants(role: string): Promise<RbacReply> {
    return this.#grpc(read(`list grants of role ${role}`), DEFAULT_DB, 'SelectGrant', { entity: { role: { name: role }, db_name: '*' } });
  }

  /**
   * Creates a user; false when it exists already. The password travels only in the request: the
   * SDK's request log is held off during the call, and a failure is reported with the server's
   * reason with the password cut out, nothing attached.
   */
  async createUser(user: { name: string; description?: string }, password: string): Promise<boolean> {
    const what = `create user ${user.name}`;
    const client = this.#sdk(DEFAULT_DB); // constructed (and its log level set) before the guard
    let reply: unknown;
    try {
      reply = await withoutRequestLog(() => call(onceOnly(what), () => client.createUser({ username: user.name, password, ...(user.description ? { description: user.description } : {}) })));
    } catch (error) {
      throw scrubbed(toMigrationError(error, what), password);
    }
    if (alreadyExists(reply)) return false;
    const status = statusOrUnimplemented(reply, what);
    if (!isStatusOk(status)) throw scrubbed(statusToError(status, what), password);
    return true;
  }

  /** Creates a role; false when it exists already. */
  async createRole(role: { name: string; description?: string }): Promise<boolean> {
    const what = `create role ${role.name}`;
    const reply = await this.#grpc(onceOnly(what), DEFAULT_DB, 'CreateRole', { entity: { name: role.name, ...(role.description ? { description: role.description } : {}) } });
    if (alreadyExists(reply)) return false;
    assertOk(reply, what);
    return true;
  }

  /** Adds the user to the role; a membership that exists already is fine. */
  async addUserToRole(user: string, role: string): Promise<void> {
    const what = `add user ${user} to role ${role}`;
    const reply = await this.#grpc(idempotentWrite(what), DEFAULT_DB, 'OperateUserRole', { username: user, role_name: role, type: OperateUserRoleType.AddUserToRole });
    if (!alreadyExists(reply)) assertOk(reply, what);
  }

  /** V1 OperatePrivilege, with the database in the entity rather than taken from the connection; granting twice is harmless. */
  async grantPrivilege(grant: { role: string; object: string; objectName: string; dbName: string; privilege: string }): Promise<void> {
    const what = `grant ${grant.privilege} on ${grant.object} ${grant.dbName}.${grant.objectName} to role ${grant.role}`;
    const reply = await this.#grpc(idempotentWrite(what), DEFAULT_DB, 'OperatePrivilege', {
      entity: {
        role: { name: grant.role },
        object: { name: grant.object },
        object_name: grant.objectName,
        db_name: grant.dbName,
        grantor: { privilege: { name: grant.privilege } },
      },
      type: OperatePrivilegeType.Grant,
    });
    if (!alreadyExists(reply)) assertOk(reply, what);
  }

  // ------------------------------------------------------------------------------------------
  // Private: the SDK client, the raw gRPC methods, the raw channel
  // ------------------------------------------------------------------------------------------

  #sdk(db: string): MilvusClient {
    let client = this.#clients.get(db);
    if (!client) {
      const creds = this.#credentials;
      client = new MilvusClient({
        address: creds.uri,
        token: creds.token,
        username: creds.username,
        password: creds.password,
        // A private CA replaces the system roots (and makes a bare host:port a TLS address); the
        // raw channel reuses the credentials and the server name this builds.
        ...(creds.tls?.caCert || creds.tls?.serverName
          ? { tls: { ...(creds.tls.caCert ? { rootCert: Buffer.from(creds.tls.caCert) } : {}), ...(creds.tls.serverName ? { serverName: creds.tls.serverName } : {}) } }
          : {}),
        database: db,
        timeout: this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        // The SDK otherwise sends a heartbeat every 10 s to the server.
        telemetry: { enabled: false },
        // The SDK would retry every call, inserts included, on UNAVAILABLE and other codes: an
        // insert the server applied before the connection dropped would then be written twice.
        // Retries are ours instead: idempotent calls in calls.ts, the others by the state
        // machine's Retry of the step, which resumes from its checkpoint.
        maxRetries: 0,
        logLevel: this.#options.logLevel ?? 'warn',
        channelOptions: { [GATEWAY_CONNECTION_OPTION]: this.#connection },
      });
      // The constructor starts a Connect call nobody awaits: an unreachable server would surface
      // as an unhandled rejection. Calls report the failure themselves.
      (client as unknown as { connectPromise?: Promise<unknown> }).connectPromise?.catch(() => undefined);
      this.#clients.set(db, client);
    }
    return client;
  }

  /** A gRPC method by name through the SDK client's pool (for calls the SDK does not wrap, or wraps badly). */
  #grpc(op: Operation, db: string, method: string, request: object): Promise<any> {
    const client = this.#sdk(db);
    const timeout = (client as unknown as { timeout: number }).timeout;
    return call(op, () => promisify(client.channelPool, method, request, timeout));
  }

  /** The raw channel of a database's client; undefined when the SDK's internals do not allow one. */
  #channel(db: string): RawMilvusChannel | undefined {
    let channel = this.#channels.get(db);
    if (!channel) {
      const client = this.#sdk(db);
      if (!RawMilvusChannel.supports(client)) return undefined;
      channel = new RawMilvusChannel(client);
      this.#channels.set(db, channel);
    }
    return channel;
  }

  async #rangeIsEmpty(db: string, q: RangeQuery): Promise<boolean> {
    const keys = await this.queryKeys(db, q.collection, { pkField: q.pkField, filter: q.filter, limit: 1, partition: q.partition, what: `probe ${q.collection}` });
    return keys.length === 0;
  }
}

/** Opens a gateway to one cluster; nothing connects until the first call. */
export function openCluster(credentials: ClusterCredentials, options: OpenClusterOptions = {}): MilvusGateway {
  return new MilvusGateway(credentials, options);
}

type KeyValue = { key: string; value: string };
const kvRecord = (pairs: KeyValue[] | undefined): Record<string, string> => Object.fromEntries((pairs ?? []).map(({ key, value }) => [key, String(value)]));

/** A reply's status; an empty reply (UNIMPLEMENTED) as a PermanentError. */
function statusOrUnimplemented(reply: unknown, what: string): MilvusStatus {
  const status = statusOf(reply);
  if (!status) throw new PermanentError('MILVUS_UNIMPLEMENTED', `${what}: the server does not implement this call`);
  return status;
}

/** An "already exists" answer to a create: a retried or repeated copy is fine with it. */
function alreadyExists(reply: unknown): boolean {
  const status = statusOf(reply);
  return Boolean(status && !isStatusOk(status) && /already exist|is existed|exists already/i.test(`${status.reason ?? ''} ${status.detail ?? ''}`));
}

/** Log levels at which the SDK writes every request, CreateCredential's password (base64) included. */
const REQUEST_LOG_LEVELS = new Set(['debug', 'verbose', 'silly']);

/** Runs `work` with the SDK's (process-wide) logger above the level that logs request bodies. */
async function withoutRequestLog<T>(work: () => Promise<T>): Promise<T> {
  const level = sdkLogger.level;
  if (!REQUEST_LOG_LEVELS.has(level)) return work();
  sdkLogger.level = 'info';
  try {
    return await work();
  } finally {
    sdkLogger.level = level;
  }
}

/** Same class and code as the original, the password cut out of the message, nothing attached. */
function scrubbed(error: PermanentError | TransientError | Error, password: string): Error {
  const message = error.message.split(password).join('[redacted]');
  const code = (error as { code?: string }).code ?? 'MILVUS_CLIENT_ERROR';
  return error instanceof TransientError ? new TransientError(code, message) : new PermanentError(code, message);
}
