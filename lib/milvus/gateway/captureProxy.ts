import * as grpc from '@grpc/grpc-js';
import { fromJSON, type MethodDefinition } from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '@zilliz/milvus2-sdk-node';
import protobuf from 'protobufjs/minimal.js';
import { methodNameFields, NameTranslator, type TargetNames } from './nameRewrite';
import { parseFieldData, primaryKeyColumn } from './protoWire';
import { milvusProtoJson } from './rowCodec';

/**
 * The capture endpoint's wire half: a gRPC server speaking Milvus's protocol (every method of
 * `milvus.proto.milvus.MilvusService` the SDK's protos know) that forwards each call as bytes to
 * an upstream cluster, the caller's metadata (authorization, dbname) as given. Nothing is
 * re-encoded: requests and replies pass through with identity serializers (after a switchover to
 * a target whose names differ, their name fields are rewritten in place: nameRewrite.ts). Only the writes
 * (Insert, Upsert, Delete) are read, to tell the capture hooks what they touch, before they are
 * forwarded; and their replies, for the keys an autoID insert minted.
 *
 * What to record and whether to refuse is the hooks' business (lib/capture): this file knows the
 * protocol, not the job.
 */

const SERVICE = 'milvus.proto.milvus.MilvusService';
const identity = (b: Buffer): Buffer => b;
/** Headers grpc-js sets itself on the outgoing call; forwarding them would duplicate or contradict them. */
const TRANSPORT_HEADERS = new Set(['user-agent', 'content-type', 'te', 'grpc-accept-encoding', 'grpc-encoding', 'accept-encoding', 'grpc-timeout', 'host', ':authority']);
const WRITE_METHODS = new Set(['Insert', 'Upsert', 'Delete']);
const COLLECTION_DDL = new Set(['CreateCollection', 'DropCollection', 'AlterCollection', 'RenameCollection', 'CreateAlias', 'AlterAlias', 'DropAlias', 'DropDatabase']);
const FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;

/** A write as the proxy read it from the request, with the collection's key facts. */
export interface CapturedWrite {
  method: 'Insert' | 'Upsert' | 'Delete';
  db: string;
  /** The collection's own name (an alias in the request is resolved by DescribeCollection). */
  collection: string;
  partition?: string;
  /** The primary key field; undefined when the collection could not be described (then record the collection as a whole). */
  pkField?: string;
  autoId?: boolean;
  /** Insert/Upsert: the primary keys the request carries (none for an autoID insert). */
  keys?: string[];
  /** Delete: the filter, and whether it uses template values (the filter alone does not say which rows). */
  filter?: string;
  templated?: boolean;
}

/** How a forwarded write ended, and the keys its reply names (MutationResult.IDs). */
export interface ForwardedReply {
  outcome: 'applied' | 'refused' | 'unknown';
  ids: string[];
}

/** A refusal the hooks raise: the caller gets this gRPC status and the write is not forwarded. */
export class WriteRefused extends Error {
  constructor(
    message: string,
    readonly grpcCode: 'FAILED_PRECONDITION' | 'UNAVAILABLE' = 'FAILED_PRECONDITION',
  ) {
    super(message);
    this.name = 'WriteRefused';
  }
}

export interface CaptureHooks<T = unknown> {
  /** Where calls go now. */
  route(): 'source' | 'target';
  /** false: writes pass as they come, unrecorded (the job ended after the switchover: nobody reads the log). */
  records(): boolean;
  /** Before a write is forwarded (to the source, or to the target after the switchover): record it (durably) or refuse it (WriteRefused). */
  beforeWrite(write: CapturedWrite): Promise<T>;
  /** After the upstream replied (or the call failed). */
  afterWrite(ticket: T, reply: ForwardedReply): Promise<void>;
}

interface Upstream {
  /** `host:port`, `http://host:port` or `https://host:port` (https: TLS). */
  uri: string;
  tls?: { caCert?: string; serverName?: string };
  /** Replaces the caller's authorization header (switchover: the caller's credentials are the source's). */
  authorization?: string;
}

export interface CaptureProxyOptions<T> {
  /** `host:port` to listen on (port 0: any free port). */
  listen: string;
  source: Upstream;
  /** Where calls go once hooks.route() says 'target'. */
  target?: Upstream;
  /**
   * The databases and collections the job moved under other names, read at each call sent to the
   * target: such calls are rewritten to the target's names and their replies back. Undefined or
   * empty: calls pass as bytes.
   */
  targetNames?: () => TargetNames | undefined;
  hooks: CaptureHooks<T>;
  /** Deadline of a forwarded write whose caller set none (or a later one), ms: bounds how long a write can stay in flight. */
  writeTimeoutMs: number;
}

export interface CaptureProxy {
  /** `host:port` it listens on. */
  address: string;
  close(): Promise<void>;
}

interface UpstreamClient {
  client: grpc.Client;
  authorization?: string;
}

type KeyFacts = { name: string; pkField: string; autoId: boolean } | null;

export async function startCaptureProxy<T>(options: CaptureProxyOptions<T>): Promise<CaptureProxy> {
  const methods = fromJSON(milvusProtoJson, LOADER_OPTIONS)[SERVICE] as unknown as Record<string, MethodDefinition<object, object>>;
  const upstreams: Record<'source' | 'target', UpstreamClient | undefined> = {
    source: connect(options.source),
    target: options.target ? connect(options.target) : undefined,
  };
  const upstream = (): UpstreamClient => upstreams[options.hooks.route()] ?? upstreams.source!;
  const nameFields = methodNameFields();
  let translated: { names: TargetNames; translator?: NameTranslator } | undefined;
  /** The translator of the job's current names, built once per names object; undefined when nothing is renamed. */
  const translator = (): NameTranslator | undefined => {
    const names = options.targetNames?.();
    if (!names) return undefined;
    if (translated?.names !== names) {
      const t = new NameTranslator(names);
      translated = { names, ...(t.empty ? {} : { translator: t }) };
    }
    return translated.translator;
  };
  /** Key facts per database and collection name, cached: a write is not preceded by a describe each time. */
  const described = new Map<string, Promise<KeyFacts>>();

  const describe = (db: string, collection: string, metadata: grpc.Metadata): Promise<KeyFacts> => {
    const key = `${db}\u0000${collection}`;
    let facts = described.get(key);
    if (!facts) {
      const request = methods.DescribeCollection!.requestSerialize({ db_name: db, collection_name: collection });
      facts = unary(upstreams.source!, `/${SERVICE}/DescribeCollection`, request, metadata, Date.now() + options.writeTimeoutMs).then(
        (reply) => keyFacts(methods.DescribeCollection!.responseDeserialize(reply) as Record<string, any>),
        () => null,
      );
      described.set(key, facts);
      // A failed describe is not kept: the next write asks again.
      void facts.then((f) => f ?? described.delete(key));
    }
    return facts;
  };

  const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(methods)) {
    const path = `/${SERVICE}/${name}`;
    definition[name] = {
      path,
      requestStream: method.requestStream,
      responseStream: method.responseStream,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
      originalName: name,
    } as grpc.MethodDefinition<Buffer, Buffer>;
    if (method.requestStream || method.responseStream) {
      implementation[name] = streamHandler(path, method, upstream);
      continue;
    }
    implementation[name] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      if (COLLECTION_DDL.has(name)) described.clear();
      const up = upstream();
      const metadata = forwardedMetadata(call.metadata, up.authorization);
      const deadline = callDeadline(call);
      // After the switchover, calls naming what the job renamed go out with the target's names, and their replies come back with the callers'.
      const names = up === upstreams.target ? translator() : undefined;
      const fields = names ? nameFields.get(name) : undefined;
      const sent = names ? names.request(fields?.request, call.request, metadata) : { bytes: call.request, metadata, targetDb: undefined };
      const mapReply = names && fields?.response ? (reply: Buffer) => names.reply(fields.response, reply, sent.targetDb!) : undefined;
      if (!WRITE_METHODS.has(name) || !options.hooks.records()) {
        forward(up, path, call, sent.bytes, sent.metadata, deadline, callback, mapReply);
        return;
      }
      void (async () => {
        let ticket: T;
        try {
          // Recorded under the names the application uses (the source's): those the sync and the verification know.
          const write = readWrite(name as CapturedWrite['method'], call.request, call.metadata, methods);
          // The source is described with the caller's own credentials, also once calls go to the target.
          const facts = await describe(write.db, write.collection, forwardedMetadata(call.metadata));
          ticket = await options.hooks.beforeWrite(withKeys(write, facts, call.request));
        } catch (error) {
          // Refused as Milvus refuses a write: a reply whose status says why (the SDKs' retry of a
          // failed unary call hangs through a proxy, and their users read statuses anyway).
          callback(null, methods[name]!.responseSerialize(refusal(error)));
          return;
        }
        const writeDeadline = Math.min(deadline ?? Infinity, Date.now() + options.writeTimeoutMs);
        const reply = await new Promise<{ error: grpc.ServiceError | null; bytes?: Buffer; headers?: grpc.Metadata }>((resolve) => {
          const upstreamCall = up.client.makeUnaryRequest(path, identity, identity, sent.bytes, sent.metadata, { deadline: writeDeadline }, (error, bytes) => resolve({ error, bytes, headers }));
          let headers: grpc.Metadata | undefined;
          upstreamCall.on('metadata', (m) => (headers = m));
        });
        const forwarded = reply.error ? { outcome: 'unknown' as const, ids: [] } : mutationOutcome(methods, reply.bytes!);
        try {
          await options.hooks.afterWrite(ticket, forwarded);
        } catch {
          // The entry is logged; without its acknowledgement the sync waits out the write's deadline, then re-reads.
        }
        if (reply.headers) call.sendMetadata(reply.headers);
        if (reply.error) callback(passError(reply.error));
        else callback(null, mapReply ? mapReply(reply.bytes!) : reply.bytes);
      })();
    };
  }

  const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  server.addService(definition as grpc.ServiceDefinition, implementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(options.listen, grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))));
  const host = options.listen.replace(/:\d+$/, '');
  return {
    address: `${host}:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      for (const u of Object.values(upstreams)) u?.client.close();
    },
  };
}

/** The longest the endpoint waits between two attempts to connect to a cluster it lost. */
const RECONNECT_MS = 1_000;

function connect(upstream: Upstream): UpstreamClient {
  const tls = /^https:\/\//i.test(upstream.uri) || Boolean(upstream.tls?.caCert);
  const address = upstream.uri.replace(/^https?:\/\//i, '').replace(/\/$/, '');
  const credentials = tls ? grpc.credentials.createSsl(upstream.tls?.caCert ? Buffer.from(upstream.tls.caCert) : null) : grpc.credentials.createInsecure();
  const client = new grpc.Client(/:\d+$/.test(address) ? address : `${address}:19530`, credentials, {
    ...(upstream.tls?.serverName ? { 'grpc.ssl_target_name_override': upstream.tls.serverName } : {}),
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
    // The endpoint is in the applications' write path, and fails their calls at once while its
    // connection is down: it tries the cluster again every second, where gRPC's own schedule
    // doubles up to two minutes (a source back after a restart would wait that long to get writes).
    'grpc.initial_reconnect_backoff_ms': RECONNECT_MS,
    'grpc.max_reconnect_backoff_ms': RECONNECT_MS,
  });
  return { client, ...(upstream.authorization ? { authorization: upstream.authorization } : {}) };
}

function forwardedMetadata(incoming: grpc.Metadata, authorization?: string): grpc.Metadata {
  const out = new grpc.Metadata();
  for (const [key, values] of Object.entries(incoming.getMap())) {
    if (TRANSPORT_HEADERS.has(key)) continue;
    if (authorization && key === 'authorization') continue;
    for (const value of incoming.get(key)) out.add(key, value);
    void values;
  }
  if (authorization) out.set('authorization', authorization);
  return out;
}

function callDeadline(call: grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

function forward(
  up: UpstreamClient,
  path: string,
  call: grpc.ServerUnaryCall<Buffer, Buffer>,
  request: Buffer,
  metadata: grpc.Metadata,
  deadline: number | undefined,
  callback: grpc.sendUnaryData<Buffer>,
  mapReply?: (reply: Buffer) => Buffer,
): void {
  const upstreamCall = up.client.makeUnaryRequest(path, identity, identity, request, metadata, deadline ? { deadline } : {}, (error, reply) => {
    if (error) callback(passError(error));
    else callback(null, mapReply ? mapReply(reply!) : reply);
  });
  upstreamCall.on('metadata', (headers) => call.sendMetadata(headers));
  call.on('cancelled', () => upstreamCall.cancel());
}

function unary(up: UpstreamClient, path: string, request: Buffer, metadata: grpc.Metadata, deadline: number): Promise<Buffer> {
  return new Promise((resolve, reject) => up.client.makeUnaryRequest(path, identity, identity, request, metadata, { deadline }, (error, reply) => (error ? reject(error) : resolve(reply!))));
}

/** The upstream's error as the caller's: code, message and trailers. */
function passError(error: grpc.ServiceError): grpc.ServerErrorResponse {
  return serverError(error.code, error.details, error.metadata);
}

function serverError(code: grpc.status, details: string, metadata?: grpc.Metadata): grpc.ServerErrorResponse {
  return Object.assign(new Error(details), { code, details, ...(metadata ? { metadata } : {}) });
}

/** ErrorCode values (common.proto): ForceDeny for the fence, RateLimit (retriable) when the change log cannot be written. */
const FORCE_DENY = 48;
const RATE_LIMIT = 49;

/** The MutationResult of a refused write: nothing applied, the status says why. */
function refusal(error: unknown): object {
  if (error instanceof WriteRefused) {
    const retriable = error.grpcCode === 'UNAVAILABLE';
    return { status: { error_code: retriable ? RATE_LIMIT : FORCE_DENY, code: retriable ? RATE_LIMIT : FORCE_DENY, reason: error.message, retriable } };
  }
  const reason = `milvus-migrate capture: the write was not forwarded, its change could not be recorded (${error instanceof Error ? error.message : String(error)}); try again`;
  return { status: { error_code: RATE_LIMIT, code: RATE_LIMIT, reason, retriable: true } };
}

/** Server-streaming and bidirectional methods (replication, DumpMessages): piped both ways, never captured. */
function streamHandler(path: string, method: MethodDefinition<object, object>, upstream: () => UpstreamClient) {
  return (call: any) => {
    const up = upstream();
    const metadata = forwardedMetadata(call.metadata, up.authorization);
    const deadline = callDeadline(call);
    const callOptions = deadline ? { deadline } : {};
    let upstreamCall: any;
    if (method.requestStream && method.responseStream) upstreamCall = up.client.makeBidiStreamRequest(path, identity, identity, metadata, callOptions);
    else if (method.responseStream) upstreamCall = up.client.makeServerStreamRequest(path, identity, identity, call.request, metadata, callOptions);
    else {
      upstreamCall = up.client.makeClientStreamRequest(path, identity, identity, metadata, callOptions, (error, reply) => (error ? call.callback?.(passError(error)) : call.callback?.(null, reply)));
    }
    if (method.requestStream) {
      call.on('data', (chunk: Buffer) => upstreamCall.write(chunk));
      call.on('end', () => upstreamCall.end());
    }
    call.on('cancelled', () => upstreamCall.cancel());
    if (method.responseStream) {
      upstreamCall.on('metadata', (headers: grpc.Metadata) => call.sendMetadata(headers));
      upstreamCall.on('data', (chunk: Buffer) => call.write(chunk));
      upstreamCall.on('error', (error: grpc.ServiceError) => call.destroy(Object.assign(new Error(error.details), passError(error))));
      upstreamCall.on('end', () => call.end());
    }
  };
}

/** Top-level fields of Insert/Upsert/Delete requests (milvus.proto): db_name=2 collection_name=3 partition_name=4; fields_data=5 (Insert, Upsert) or expr=5 (Delete); Delete's expr_template_values=8. */
function readWrite(method: CapturedWrite['method'], request: Buffer, incoming: grpc.Metadata, methods: Record<string, MethodDefinition<object, object>>): CapturedWrite {
  const headerDb = String(incoming.get('dbname')[0] ?? '');
  if (method === 'Delete') {
    const d = methods.Delete!.requestDeserialize(request) as Record<string, any>;
    const templated = d.expr_template_values && Object.keys(d.expr_template_values).length > 0;
    return {
      method,
      db: d.db_name || headerDb || 'default',
      collection: d.collection_name,
      ...(d.partition_name ? { partition: d.partition_name } : {}),
      filter: d.expr ?? '',
      templated: Boolean(templated),
    };
  }
  const r = protobuf.Reader.create(request);
  const write: CapturedWrite = { method, db: '', collection: '' };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 2 && (tag & 7) === 2) write.db = r.string();
    else if (field === 3 && (tag & 7) === 2) write.collection = r.string();
    else if (field === 4 && (tag & 7) === 2) {
      const partition = r.string();
      if (partition) write.partition = partition;
    } else r.skipType(tag & 7);
  }
  write.db ||= headerDb || 'default';
  return write;
}

/** The request's keys, now that the pk field is known (Insert/Upsert: the FieldData named like it). */
function withKeys(write: CapturedWrite, facts: KeyFacts, request: Buffer): CapturedWrite {
  if (!facts) return write;
  const out: CapturedWrite = { ...write, collection: facts.name, pkField: facts.pkField, autoId: facts.autoId };
  if (write.method === 'Delete') return out;
  const r = protobuf.Reader.create(request);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 5 && (tag & 7) === 2) {
      const len = r.uint32();
      const span = { start: r.pos, end: r.pos + len };
      r.skip(len);
      const fieldData = parseFieldData(request, span);
      if (!fieldData.isDynamic && fieldData.name === facts.pkField) {
        out.keys = primaryKeyColumn(fieldData, true).keys ?? [];
        return out;
      }
    } else r.skipType(tag & 7);
  }
  return out;
}

function keyFacts(reply: Record<string, any>): KeyFacts {
  if (!statusOk(reply.status)) return null;
  const fields: any[] = reply.schema?.fields ?? [];
  const pk = fields.find((f) => f.is_primary_key);
  if (!pk) return null;
  return { name: reply.collection_name || reply.schema?.name, pkField: pk.name, autoId: Boolean(pk.autoID || reply.schema?.autoID) };
}

function mutationOutcome(methods: Record<string, MethodDefinition<object, object>>, reply: Buffer): ForwardedReply {
  try {
    const m = methods.Insert!.responseDeserialize(reply) as Record<string, any>;
    const ids: string[] = [...(m.IDs?.int_id?.data ?? []), ...(m.IDs?.str_id?.data ?? [])].map(String);
    return { outcome: statusOk(m.status) ? 'applied' : 'refused', ids };
  } catch {
    return { outcome: 'unknown', ids: [] };
  }
}

/** Success: code 0 (Milvus 2.3+) and error_code Success (older servers set only that). */
function statusOk(status: { code?: number; error_code?: string | number } | undefined): boolean {
  return !status || (Number(status.code ?? 0) === 0 && (status.error_code ?? 'Success') === 'Success');
}
