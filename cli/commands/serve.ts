import { createApiHandler } from '../../functions/api';
import { startApiServer } from '../../functions/localHttpServer';
import { startLocalRuntime } from '../../local/runtime';

/** Serves the migration API on 127.0.0.1 until interrupted. */
export async function serveCommand(flags: { port: string; host: string }): Promise<number> {
  const runtime = await startLocalRuntime();
  const server = await startApiServer({
    handler: createApiHandler(() => runtime.service),
    port: Number(flags.port),
    host: flags.host,
  });
  process.stderr.write(`milvus-migrate API listening on ${server.url} (DynamoDB Local at ${runtime.dynamoEndpoint}); Ctrl-C stops it\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stderr.write('stopping\n');
  await server.close();
  await runtime.stop();
  return 0;
}
