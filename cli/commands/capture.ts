import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoChangeLog } from '../../lib/capture/dynamoChangeLog';
import { targetNamesOf } from '../../lib/capture/targetNames';
import { endpointMode, WriteCapture, type EndpointMode, type WriteStage } from '../../lib/capture/writeCapture';
import { createDocumentClient } from '../../lib/jobs/dynamoJobStore';
import { startCaptureProxy, type TargetNames } from '../../lib/milvus/gateway';
import type { CollectionView } from '../../lib/api/views';
import type { ApiClient } from '../apiClient';
import { apiClientFrom, type ApiFlags } from '../apiOptions';
import type { JobView } from '../output';
import { readCaCert } from '../requestOptions';

export interface CaptureFlags extends ApiFlags {
  listen: string;
  table: string;
  dynamodbEndpoint?: string;
  sourceCaCert?: string;
  sourceServerName?: string;
  targetToken?: string;
  targetCaCert?: string;
  targetServerName?: string;
}

/** How often the endpoint reads the job (the fence, the switchover) and beats its heartbeat. */
const POLL_MS = 500;
/**
 * While a cutover refuses writes, the applications wait on every read of the job: the fence's
 * acknowledgement (which the drain waits for) and the switch are seen this fast. Only for those
 * seconds: a job that ended fenced (no switchover) is read at POLL_MS.
 */
const FENCED_POLL_MS = 100;

type CaptureJob = JobView & { options: { syncStrategy?: string; switchover?: boolean; captureWriteTimeoutSeconds?: number }; source: { uri: string }; target: { uri: string } };

/**
 * `milvus-migrate capture JOB_ID`: serves the Milvus gRPC protocol for the applications of an
 * online job with sync strategy capture. Every call goes to the source as sent (the callers' own
 * credentials); each write's keys are logged in the job's change log first. Once the job's sync is
 * stopping, writes are refused naming the job; after SUCCESSFUL with switchover, every call goes
 * to the target, with the names of the databases and collections the job moved elsewhere mapped
 * (read once from the job's collections before the first call is switched).
 */
export async function captureCommand(jobId: string, flags: CaptureFlags): Promise<number> {
  const api = apiClientFrom(flags);
  const job = (await api.get(jobId)) as CaptureJob;
  if (job.type !== 'online' || job.options.syncStrategy !== 'capture') {
    throw new Error(`job ${jobId} is ${job.type} with sync strategy ${job.options.syncStrategy ?? 'snapshot-diff'}: the capture endpoint serves online jobs created with --sync-strategy capture`);
  }
  const dynamo = new DynamoDBClient({
    ...(flags.dynamodbEndpoint ? { endpoint: flags.dynamodbEndpoint } : {}),
    // DynamoDB Local takes any credentials; the standard chain may have none on a laptop.
    ...(flags.dynamodbEndpoint && !process.env.AWS_ACCESS_KEY_ID ? { region: process.env.AWS_REGION ?? 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  const log = new DynamoChangeLog(createDocumentClient(dynamo), flags.table);
  const writeTimeoutMs = (job.options.captureWriteTimeoutSeconds ?? 30) * 1000;
  const crashAt = process.env.MILVUS_MIGRATE_CAPTURE_CRASH as WriteStage | undefined;
  const capture = new WriteCapture({
    jobId,
    log,
    instanceId: randomBytes(4).toString('hex'),
    writeTimeoutMs,
    // Tests kill the endpoint between the log and the forward, or between the forward and the reply.
    ...(crashAt ? { onStage: (stage: WriteStage) => stage === crashAt && process.kill(process.pid, 'SIGKILL') } : {}),
  });
  /** Set once, before the mode turns 'switched': no call reaches the target with the source's names. */
  let targetNames: TargetNames | undefined;
  const modeOf = async (current: CaptureJob): Promise<EndpointMode> => {
    const mode = endpointMode(current);
    if ((mode === 'switched' || mode === 'moved') && !targetNames) targetNames = targetNamesOf(await allCollections(api, jobId));
    return mode;
  };
  capture.setMode(await modeOf(job));

  const targetToken = flags.targetToken ?? process.env.MILVUS_TARGET_TOKEN;
  const proxy = await startCaptureProxy({
    listen: flags.listen,
    source: { uri: job.source.uri, ...tlsOf('--source-ca-cert', flags.sourceCaCert, flags.sourceServerName) },
    ...(job.options.switchover
      ? { target: { uri: job.target.uri, ...tlsOf('--target-ca-cert', flags.targetCaCert, flags.targetServerName), ...(targetToken ? { authorization: Buffer.from(targetToken).toString('base64') } : {}) } }
      : {}),
    hooks: capture,
    targetNames: () => targetNames,
    writeTimeoutMs,
  });

  let stopped = false;
  let warned = false;
  let cuttingOver = false;
  const poll = async () => {
    while (!stopped) {
      try {
        const current = (await api.get(jobId)) as CaptureJob;
        cuttingOver = current.status === 'CUTTING_OVER';
        // Until the names are read the endpoint stays as it was (fenced once the job cuts over).
        const mode = await modeOf(current);
        if (mode !== capture.currentMode) process.stderr.write(`job ${jobId} is ${current.status}: ${describe(mode)}\n`);
        capture.setMode(mode);
        await capture.heartbeat();
        warned = false;
      } catch (error) {
        if (!warned) process.stderr.write(`capture: cannot read job ${jobId} (${error instanceof Error ? error.message : String(error)}); retrying\n`);
        warned = true;
      }
      await new Promise((resolve) => setTimeout(resolve, cuttingOver && capture.currentMode === 'fenced' ? FENCED_POLL_MS : POLL_MS));
    }
  };
  const polling = poll();
  process.stdout.write(`capture endpoint for job ${jobId} listening on ${proxy.address}, forwarding to ${job.source.uri}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopped = true;
  await polling;
  await proxy.close();
  return 0;
}

/** Every collection of the job, page after page (names only travel: the API never shows a credential). */
async function allCollections(api: ApiClient, jobId: string): Promise<CollectionView[]> {
  const all: CollectionView[] = [];
  let nextToken: string | undefined;
  do {
    const page = await api.collections(jobId, { limit: 1000, ...(nextToken ? { nextToken } : {}) });
    all.push(...(page.items as CollectionView[]));
    nextToken = page.nextToken;
  } while (nextToken);
  return all;
}

function describe(mode: string): string {
  if (mode === 'fenced') return 'writes are refused from now on';
  if (mode === 'switched') return 'every call now goes to the target (writes still recorded until the verification ends)';
  if (mode === 'moved') return 'every call goes to the target';
  return 'writes are captured and forwarded to the source';
}

function tlsOf(flag: string, caFile?: string, serverName?: string): { tls?: { caCert?: string; serverName?: string } } {
  if (!caFile && !serverName) return {};
  return { tls: { ...(caFile ? { caCert: readCaCert(flag, caFile) } : {}), ...(serverName ? { serverName } : {}) } };
}

