import * as grpc from '@grpc/grpc-js';
import { SERVICE_NAME, packageDefinition } from './proto';
import { MilvusError, ok } from './status';
import { type CallContext, type FakeMilvusState, createState } from './state';
import type { Handlers } from './handlers';
import { databaseHandlers } from './databases';
import { collectionHandlers } from './collections';
import { partitionHandlers } from './partitions';
import { aliasHandlers } from './aliases';
import { indexHandlers } from './indexes';
import { loadHandlers } from './load';
import { dataHandlers } from './data';
import { rbacHandlers } from './rbac';
import { importHandlers } from './imports';

export type { FakeMilvusState } from './state';

export interface FakeMilvusOptions {
  /** Port on 127.0.0.1; 0 or absent picks a free one. */
  port?: number;
  /** Answer of GetVersion. */
  version?: string;
  /** Query nodes, each able to hold one replica of a collection: LoadCollection refuses more replicas. Unlimited by default. */
  queryNodes?: number;
}

export interface FakeMilvus {
  uri: string;
  stop(): Promise<void>;
  state: FakeMilvusState;
  /** Names of the methods that are implemented; every other MilvusService method answers UNIMPLEMENTED. */
  implemented: string[];
  /** Calls received per method since the start (or the last reset), implemented or not. */
  calls: Record<string, number>;
  resetCalls(): void;
}

const serverHandlers = (state: FakeMilvusState): Handlers => ({
  Connect: () => ({
    status: ok(),
    server_info: {
      build_tags: state.version,
      build_time: '',
      git_commit: 'fake',
      go_version: '',
      deploy_mode: 'STANDALONE',
      reserved: {},
    },
    identifier: String(Date.now()),
  }),
  GetVersion: () => ({ status: ok(), version: state.version }),
  CheckHealth: () => ({ status: ok(), isHealthy: true, reasons: [], quota_states: [] }),
});

/** Starts an in-memory server speaking milvus.proto.milvus.MilvusService over gRPC on 127.0.0.1. */
export async function startFakeMilvus(options: FakeMilvusOptions = {}): Promise<FakeMilvus> {
  const state = createState(options.version ?? 'v2.6.0');
  if (options.queryNodes !== undefined) state.queryNodes = options.queryNodes;
  const service = packageDefinition[SERVICE_NAME] as grpc.ServiceDefinition;
  const handlers: Handlers = {
    ...serverHandlers(state),
    ...databaseHandlers,
    ...collectionHandlers,
    ...partitionHandlers,
    ...aliasHandlers,
    ...indexHandlers,
    ...loadHandlers,
    ...dataHandlers,
    ...rbacHandlers,
    ...importHandlers,
  };
  const implementation: grpc.UntypedServiceImplementation = {};
  const calls: Record<string, number> = {};
  for (const method of Object.keys(service)) {
    const handler = handlers[method];
    const returnsStatus = (packageDefinition[SERVICE_NAME] as any)[method].responseType.type?.name === 'Status';
    implementation[method] = handler
      ? (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
          calls[method] = (calls[method] ?? 0) + 1;
          const ctx: CallContext = { state, dbName: String(call.metadata.get('dbname')[0] ?? '') || 'default' };
          try {
            callback(null, handler(call.request, ctx));
          } catch (err) {
            if (!(err instanceof MilvusError)) {
              callback({ code: grpc.status.INTERNAL, details: String((err as Error)?.stack ?? err) });
              return;
            }
            callback(null, returnsStatus ? err.toStatus() : { status: err.toStatus() });
          }
        }
      : (_call: unknown, callback: grpc.sendUnaryData<any>) => {
          calls[method] = (calls[method] ?? 0) + 1;
          callback({ code: grpc.status.UNIMPLEMENTED, details: `Method not implemented by fake Milvus: ${method}` });
        };
  }
  const server = new grpc.Server();
  server.addService(service, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    uri: `127.0.0.1:${port}`,
    state,
    implemented: Object.keys(handlers).filter((m) => m in service),
    calls,
    resetCalls: () => {
      for (const key of Object.keys(calls)) delete calls[key];
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}
