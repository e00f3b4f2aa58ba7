import type { LocalDynamo } from '../local/dynamoLocal';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime';
import { ApiClient } from './apiClient';

/** What `run` needs of a migration API, whichever runtime answers it. */
export interface JobApi {
  create(body: unknown): Promise<unknown>;
  get(jobId: string): Promise<unknown>;
  /** The operator's confirmation that every writer to the source has stopped. */
  stopSync(jobId: string): Promise<unknown>;
}

/** A runtime on this machine, seen through its API. */
export interface RunningRuntime {
  api: JobApi;
  stop(): Promise<void>;
}

export interface LocalRuntimeFlags {
  /** A `cdk synth --output DIR` folder: run its Lambda assets instead of the handlers in process. */
  artifacts?: string;
}

/**
 * The in-process runtime (the handlers' TypeScript, called directly), or with --artifacts the
 * deployed artifacts: every step and the API are the bundled assets run as Lambda runs them, and
 * the job is driven through the HTTP API. `dynamo`: DynamoDB Local started already for the
 * in-process runtime, which then stops it.
 */
export async function startRuntime(flags: LocalRuntimeFlags, dynamo?: Promise<LocalDynamo>): Promise<RunningRuntime> {
  if (flags.artifacts) {
    const { startArtifactRuntime } = await import('../local/artifactRuntime');
    const runtime = await startArtifactRuntime({ assemblyDir: flags.artifacts, log: stepLogSink() });
    return {
      api: new ApiClient(runtime.apiUrl, { timeoutMs: 60_000 }),
      stop: async () => {
        // A call a deployed role would refuse is worth knowing before deploying.
        for (const denied of runtime.account.deniedCalls()) {
          process.stderr.write(`milvus-migrate: the role of ${denied.functionLogicalId} would not be allowed ${denied.action} on ${denied.resource}\n`);
        }
        await runtime.stop();
      },
    };
  }
  return inProcess(await startLocalRuntime({ dynamo }));
}

export function inProcess(runtime: LocalRuntime): RunningRuntime {
  return {
    api: {
      create: (body) => runtime.service.create(body),
      get: (jobId) => runtime.service.get(jobId),
      stopSync: (jobId) => runtime.service.stopSync(jobId, { confirmWritesStopped: true }),
    },
    stop: () => runtime.stop(),
  };
}

/** The functions' log lines (CloudWatch on AWS): silent unless MILVUS_MIGRATE_STEP_LOG=stderr, as for the in-process steps. */
function stepLogSink(): ((functionName: string, line: string) => void) | undefined {
  if (process.env.MILVUS_MIGRATE_STEP_LOG !== 'stderr') return undefined;
  return (functionName, line) => process.stderr.write(`[${functionName}] ${line}\n`);
}
