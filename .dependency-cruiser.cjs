// The layering rules of the code, checked by `npm run lint` (dependency-cruiser).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles-in-lib',
      comment: 'The domain has no import cycles.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'lib-imports-no-outer-folder',
      comment: 'lib/ is the domain: it knows nothing of the AWS adapters, the CLI, the local runtime, benchmarks or tests.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^(infra|functions|cli|local|bench|scripts|test)/' },
    },
    {
      name: 'one-way-into-milvus',
      comment:
        'Only the gateway (lib/milvus/gateway/) talks to Milvus: the SDK, gRPC and the wire codecs stay inside it. ' +
        'The demo data and the mixed writer play the application writing to its cluster, with the SDK as an application would.',
      severity: 'error',
      from: { path: '^(lib|functions|cli|local|infra)/', pathNot: '^(lib/milvus/gateway/|local/(sampleData|mixedWriter)\\.ts$)' },
      to: { path: 'node_modules/(@zilliz/milvus2-sdk-node|@grpc/grpc-js|@grpc/proto-loader|protobufjs)/' },
    },
    {
      name: 'gateway-internals-stay-inside',
      comment: 'Outside the gateway, only its index is imported.',
      severity: 'error',
      from: { path: '^(lib|functions|cli|local|infra)/', pathNot: '^lib/milvus/gateway/' },
      to: { path: '^lib/milvus/gateway/', pathNot: '^lib/milvus/gateway/index\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(cdk\\.out|local/lambda/node22)/' },
  },
};
