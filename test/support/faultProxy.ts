import { createRequire } from 'node:module';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * A fault-injecting gRPC proxy for tests, placed between the service and a Milvus server.
 *
 * It forwards every MilvusService call byte for byte (a generic handler with raw Buffer
 * (de)serializers, one per method of the SDK's milvus.proto), and at a chosen rate per call (per
 * method if wanted) answers instead with a transient fault:
 * - `unavailable`: gRPC UNAVAILABLE, the upstream never sees the call;
 * - `deadline`: gRPC DEADLINE_EXCEEDED, the upstream never sees the call;
 * - `rate-limit`: a Milvus reply whose status says RateLimit (error_code 49, code 8);
 * - `resource-exhausted`: gRPC RESOURCE_EXHAUSTED;
 * - `drop`: the TCP connection is cut mid-call, before the upstream sees the call;
 * - `drop-after-forward`: the upstream executes the call, then the connection is cut before the
 *   reply reaches the client (a write applied whose answer is lost).
 * It also adds latency to a share of the calls, can kill one chosen call (e.g. the n-th Insert,
 * after forwarding it), and has "permanent" modes: refused credentials (gRPC UNAUTHENTICATED, as
 * a Milvus proxy answers a bad token, or a Milvus status saying so) and collections that do not
 * exist (status code 100, "collection not found").
 *
 * Every decision comes from one seeded random source, so a failure reproduces with its seed
 * (calls that run concurrently may still interleave differently). `injected` counts what it did.
 *
 * Dropping works at the TCP level: clients connect to a relay in front of the gRPC server, and a
 * drop destroys the relay's sockets (every call in flight on them fails, as with a real reset).
 */

export type TransientFault = 'unavailable' | 'deadline' | 'rate-limit' | 'resource-exhausted' | 'drop' | 'drop-after-forward';
type PermanentMode = 'unauthenticated' | 'auth-status' | null;

export interface FaultProxyOptions {
  /** host:port of the Milvus server. */
  upstream: string;
  /** Seed of the random source. */
  seed: number;
  /** Share of calls (0..1) answered with a transient fault; default 0. */
  rate?: number;
  /** Per-method rates (short method names, e.g. Insert), overriding `rate`. */
  rates?: Record<string, number>;
  /** Faults to choose from, uniformly; default all but drop-after-forward. */
  faults?: TransientFault[];
  /** Methods never faulted; default Connect (the SDK's handshake, which nothing awaits). */
  exempt?: string[];
  /** Share of calls delayed, and the delay range in ms. */
  latency?: { rate: number; minMs: number; maxMs: number };
}

interface FaultCounts {
  calls: number;
  forwarded: number;
  unavailable: number;
  deadline: number;
  'rate-limit': number;
  'resource-exhausted': number;
  drop: number;
  'drop-after-forward': number;
  delayed: number;
  killed: number;
  unauthenticated: number;
  'collection-not-found': number;
  refused: number;
}

export interface FaultProxy {
  /** host:port to give the service instead of the upstream. */
  readonly uri: string;
  readonly injected: FaultCounts;
  /** Calls per method (short names). */
  readonly callsByMethod: Record<string, number>;
  /** Transient faults injected per method. */
  readonly faultsByMethod: Record<string, number>;
  /** The most calls of a method (short names) that were in the proxy at one time: what a client ran at once. */
  readonly maxInFlightByMethod: Record<string, number>;
  /** Changes the transient fault rate (e.g. 0 to let a verification through). */
  setRate(rate: number, rates?: Record<string, number>): void;
  /** Changes the latency added to calls (undefined: none). */
  setLatency(latency: FaultProxyOptions['latency']): void;
  /** Refuse every call as unauthenticated (gRPC UNAUTHENTICATED, or a Milvus status), or stop refusing. */
  setPermanent(mode: PermanentMode): void;
  /** Calls naming these collections are answered "collection not found" (merr 100). */
  setMissingCollections(names: string[]): void;
  /** Every call of `method` is answered with a Milvus "invalid parameter" status (merr 1100) giving `reason`, as a server refusing a schema does. */
  refuse(method: string, reason: string): void;
  /** The `nth` (1-based) next call of `method` is forwarded, then its connection is cut before the reply. */
  killAfterForward(method: string, nth?: number): void;
  /** Sum of the transient faults injected. */
  transientFaults(): number;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);
const SERVICE = 'milvus.proto.milvus.MilvusService';

interface MethodInfo {
  path: string;
  /** The reply is a bare common.Status. */
  bareStatus: boolean;
  /** Field number of the reply's status (when not bare). */
  statusField: number;
  /** Field number of collection_name in the request, if any. */
  collectionField?: number;
}

let methodsCache: Map<string, MethodInfo> | undefined;

/** Every MilvusService method with what the proxy needs to answer it itself, from the SDK's own proto. */
function milvusMethods(): Map<string, MethodInfo> {
  if (methodsCache) return methodsCache;
  const json = require('@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js');
  const root = protobuf.Root.fromJSON(json.default ?? json);
  const service = root.lookupService(SERVICE);
  const methods = new Map<string, MethodInfo>();
  for (const method of Object.values(service.methods)) {
    method.resolve();
    const response = method.resolvedResponseType!;
    const request = method.resolvedRequestType!;
    const bareStatus = response.fullName.endsWith('common.Status');
    methods.set(method.name, {
      path: `/${SERVICE}/${method.name}`,
      bareStatus,
      statusField: bareStatus ? 0 : response.fields.status?.id ?? 1,
      collectionField: request.fields.collection_name?.id,
    });
  }
  methodsCache = methods;
  return methods;
}

/** A common.Status: error_code (1), reason (2), code (3). */
function statusBytes(errorCode: number, reason: string, code: number): Uint8Array {
  return protobuf.Writer.create().uint32(8).int32(errorCode).uint32(18).string(reason).uint32(24).int32(code).finish();
}

/** A reply of `method` carrying only a failed status. */
function statusReply(info: MethodInfo, errorCode: number, reason: string, code: number): Buffer {
  const status = statusBytes(errorCode, reason, code);
  if (info.bareStatus) return Buffer.from(status);
  return Buffer.from(protobuf.Writer.create().uint32((info.statusField << 3) | 2).bytes(status).finish());
}

/** The collection_name of a request, scanning its top-level fields only. */
function collectionOf(info: MethodInfo, request: Buffer): string | undefined {
  if (!info.collectionField) return undefined;
  try {
    const reader = protobuf.Reader.create(request);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === info.collectionField && (tag & 7) === 2) return reader.string();
      reader.skipType(tag & 7);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** mulberry32: a small seeded PRNG. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const identity = (b: Buffer) => b;

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const methods = milvusMethods();
  const random = seededRandom(options.seed);
  let rate = options.rate ?? 0;
  let latency = options.latency;
  let rates: Record<string, number> = { ...(options.rates ?? {}) };
  const faults: TransientFault[] = options.faults ?? ['unavailable', 'deadline', 'rate-limit', 'resource-exhausted', 'drop'];
  const exempt = new Set(options.exempt ?? ['Connect']);
  let permanent: PermanentMode = null;
  let missing = new Set<string>();
  const refusals = new Map<string, string>();
  const kills = new Map<string, number>();
  const injected: FaultCounts = {
    calls: 0,
    forwarded: 0,
    unavailable: 0,
    deadline: 0,
    'rate-limit': 0,
    'resource-exhausted': 0,
    drop: 0,
    'drop-after-forward': 0,
    delayed: 0,
    killed: 0,
    unauthenticated: 0,
    'collection-not-found': 0,
    refused: 0,
  };
  const callsByMethod: Record<string, number> = {};
  const faultsByMethod: Record<string, number> = {};
  const inFlightByMethod: Record<string, number> = {};
  const maxInFlightByMethod: Record<string, number> = {};

  const upstream = new grpc.Client(options.upstream, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });

  // The relay: clients talk to it, it talks to the gRPC server below; a drop destroys its sockets.
  const sockets = new Set<net.Socket>();
  let grpcPort = 0;
  const relay = net.createServer((client) => {
    const server = net.connect(grpcPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(server);
    client.pipe(server);
    server.pipe(client);
    const end = () => {
      client.destroy();
      server.destroy();
      sockets.delete(client);
      sockets.delete(server);
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
  });
  const dropConnections = () => {
    for (const socket of [...sockets]) socket.destroy();
  };

  const forward = (info: MethodInfo, call: grpc.ServerUnaryCall<Buffer, Buffer>) =>
    new Promise<{ error: grpc.ServiceError | null; reply?: Buffer }>((resolve) => {
      const deadline = call.getDeadline();
      const callOptions: grpc.CallOptions = deadline instanceof Date || (typeof deadline === 'number' && Number.isFinite(deadline)) ? { deadline } : {};
      upstream.makeUnaryRequest(info.path, identity, identity, call.request, call.metadata, callOptions, (error, reply) => resolve({ error, reply }));
    });

  const handler = (name: string, info: MethodInfo) => async (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
    injected.calls += 1;
    callsByMethod[name] = (callsByMethod[name] ?? 0) + 1;
    inFlightByMethod[name] = (inFlightByMethod[name] ?? 0) + 1;
    maxInFlightByMethod[name] = Math.max(maxInFlightByMethod[name] ?? 0, inFlightByMethod[name]);
    const fault = (kind: TransientFault) => {
      injected[kind] += 1;
      faultsByMethod[name] = (faultsByMethod[name] ?? 0) + 1;
    };
    // Every path below answers before the handler returns.
    try {
      await answer();
    } finally {
      inFlightByMethod[name] -= 1;
    }
    async function answer(): Promise<void> {
      try {
        if (permanent && !exempt.has(name)) {
          injected.unauthenticated += 1;
          if (permanent === 'unauthenticated') {
            return callback({ code: grpc.status.UNAUTHENTICATED, details: 'auth check failure, please check username and password are correct' });
          }
          // merr ErrPrivilegeNotAuthenticated (1400); legacy ErrorCode 65 (NotAuthenticated... as the proxy mapped it).
          return callback(null, statusReply(info, 65, 'not authenticated: auth check failure, please check username and password are correct', 1400));
        }
        const refusal = refusals.get(name);
        if (refusal !== undefined) {
          injected.refused += 1;
          // ErrorCode 5 (IllegalArgument), merr 1100 (ErrParameterInvalid).
          return callback(null, statusReply(info, 5, `invalid parameter[${refusal}]`, 1100));
        }
        if (missing.size > 0) {
          const collection = collectionOf(info, call.request);
          if (collection !== undefined && missing.has(collection)) {
            injected['collection-not-found'] += 1;
            // ErrorCode 4 (CollectionNotExists... legacy UnexpectedError on newer servers), merr 100.
            return callback(null, statusReply(info, 4, `collection not found[collection=${collection}]`, 100));
          }
        }
        const kill = kills.get(name);
        if (kill !== undefined) {
          if (kill <= 1) {
            kills.delete(name);
            const { error } = await forward(info, call);
            injected.killed += 1;
            dropConnections();
            return callback(error ?? { code: grpc.status.UNAVAILABLE, details: 'connection dropped by the fault proxy' });
          }
          kills.set(name, kill - 1);
        }
        if (latency && !exempt.has(name) && random() < latency.rate) {
          injected.delayed += 1;
          const ms = latency.minMs + random() * (latency.maxMs - latency.minMs);
          await new Promise((resolve) => setTimeout(resolve, ms));
        }
        const callRate = rates[name] ?? rate;
        if (!exempt.has(name) && callRate > 0 && random() < callRate) {
          const kind = faults[Math.floor(random() * faults.length)]!;
          fault(kind);
          switch (kind) {
            case 'unavailable':
              return callback({ code: grpc.status.UNAVAILABLE, details: 'injected: upstream connect error or disconnect/reset before headers' });
            case 'deadline':
              return callback({ code: grpc.status.DEADLINE_EXCEEDED, details: 'injected: deadline exceeded' });
            case 'rate-limit':
              return callback(null, statusReply(info, 49, 'rate limit exceeded[rate=0.1] (injected)', 8));
            case 'resource-exhausted':
              return callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'injected: resource exhausted' });
            case 'drop':
              dropConnections();
              return callback({ code: grpc.status.UNAVAILABLE, details: 'connection dropped by the fault proxy' });
            case 'drop-after-forward': {
              const { error } = await forward(info, call);
              dropConnections();
              return callback(error ?? { code: grpc.status.UNAVAILABLE, details: 'connection dropped by the fault proxy' });
            }
          }
        }
        const { error, reply } = await forward(info, call);
        injected.forwarded += 1;
        callback(error, reply);
      } catch (error) {
        callback({ code: grpc.status.INTERNAL, details: `fault proxy: ${String(error)}` });
      }
    }
  };

  const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const definition: Record<string, unknown> = {};
  const implementation: Record<string, unknown> = {};
  for (const [name, info] of methods) {
    definition[name] = {
      path: info.path,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    };
    implementation[name] = handler(name, info);
  }
  server.addService(definition as never, implementation as never);
  grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );
  const port = await new Promise<number>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(0, '127.0.0.1', () => resolve((relay.address() as net.AddressInfo).port));
  });

  return {
    uri: `127.0.0.1:${port}`,
    injected,
    callsByMethod,
    faultsByMethod,
    maxInFlightByMethod,
    setRate(next, nextRates) {
      rate = next;
      if (nextRates) rates = { ...nextRates };
      else if (next === 0) rates = {};
    },
    setLatency(next) {
      latency = next;
    },
    setPermanent(mode) {
      permanent = mode;
    },
    setMissingCollections(names) {
      missing = new Set(names);
    },
    refuse(method, reason) {
      if (!methods.has(method)) throw new Error(`no MilvusService method ${method}`);
      refusals.set(method, reason);
    },
    killAfterForward(method, nth = 1) {
      if (!methods.has(method)) throw new Error(`no MilvusService method ${method}`);
      kills.set(method, nth);
    },
    transientFaults() {
      return injected.unavailable + injected.deadline + injected['rate-limit'] + injected['resource-exhausted'] + injected.drop + injected['drop-after-forward'];
    },
    async stop() {
      upstream.close();
      dropConnections();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      server.forceShutdown();
    },
  };
}
