import { createApiHandler } from '../../functions/api';
import { startApiServer } from '../../functions/localHttpServer';
import { startLocalRuntime } from '../../local/runtime';
import type { LocalRuntimeFlags } from '../localRuntimes';

/** Serves the migration API on 127.0.0.1 until interrupted: the handlers in process, or with --artifacts the API function's asset. */
export async function serveCommand(flags: { port: string; host: string } & LocalRuntimeFlags): Promise<number> {
  const { url, dynamoEndpoint, stop } = flags.artifacts ? await serveArtifacts(flags.artifacts, flags) : await serveInProcess(flags);
  process.stderr.write(`milvus-migrate API listening on ${url} (DynamoDB Local at ${dynamoEndpoint}); Ctrl-C stops it\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stderr.write('stopping\n');
  await stop();
  return 0;
}

async function serveInProcess(flags: { port: string; host: string }) {
  const runtime = await startLocalRuntime();
  const server = await startApiServer({ handler: createApiHandler(() => runtime.service), port: Number(flags.port), host: flags.host });
  return {
    url: server.url,
    dynamoEndpoint: runtime.dynamoEndpoint,
    stop: async () => {
      await server.close();
      await runtime.stop();
    },
  };
}

async function serveArtifacts(assemblyDir: string, flags: { port: string; host: string }) {
  const { startArtifactRuntime } = await import('../../local/artifactRuntime');
  const runtime = await startArtifactRuntime({ assemblyDir, apiPort: Number(flags.port), apiHost: flags.host });
  return { url: runtime.apiUrl, dynamoEndpoint: runtime.dynamoEndpoint, stop: () => runtime.stop() };
}
