import type { JobOptions } from '../jobs/model';
import type { CollectionPlan } from './preflight';

/**
 * A rough duration and AWS cost of a migration, from stated assumptions. Pure.
 *
 * Throughput: ASSUMED_ROWS_PER_SECOND rows/s per copy shard, the rate the project's copy reached
 * for 768-d float vectors with 4 shards at once on milvus-lite (README "Copy throughput": 3,201
 * rows/s for 4 shards, so about 800 per shard). Real clusters differ: treat it as an order of magnitude.
 *
 * Prices: AWS public on-demand prices, us-east-1, x86, as listed in 2025:
 * Lambda $0.0000166667 per GB-second and $0.20 per million requests; Step Functions Standard
 * $0.025 per 1,000 state transitions; DynamoDB on-demand $0.625 per million write request units.
 * Free tiers are not deducted; API Gateway, Secrets Manager, CloudWatch Logs and data transfer
 * (which can dominate across regions: $0.02/GB or more) are not counted.
 */
export const ASSUMED_ROWS_PER_SECOND = 800;
export const PRICES_USD = {
  lambdaGbSecond: 0.0000166667,
  lambdaRequest: 0.2 / 1_000_000,
  stepFunctionsTransition: 0.025 / 1_000,
  dynamoWriteRequestUnit: 0.625 / 1_000_000,
} as const;
/** The copy step's memory (infra/migrationFunctions.ts STEP_SIZING) and the budget of one invocation on AWS. */
const COPY_MEMORY_GB = 1;
const COPY_INVOCATION_SECONDS = 13 * 60;
/** Per collection: Preflight share, CreateTargetCollection, BuildIndexes and Verify, on 512 MB Lambdas. */
const PER_COLLECTION_SECONDS = 60;
const OTHER_MEMORY_GB = 0.5;
/** State transitions per collection outside the copy loop, per copy invocation (CopyShard + ShardDone?), per job. */
const TRANSITIONS_PER_COLLECTION = 8;
const TRANSITIONS_PER_COPY_INVOCATION = 2;
const TRANSITIONS_PER_JOB = 12;
/** A checkpoint is a transaction of two items (shard and job): 2 WRU each. Events and status writes: about 10 per collection. */
const WRU_PER_BATCH = 4;
const WRU_PER_COLLECTION = 20;

export interface MigrationEstimate {
  rows: number;
  estimatedBytes: number;
  shards: number;
  batches: number;
  durationSeconds: number;
  costUsd: { lambda: number; stepFunctions: number; dynamoDb: number; total: number };
  assumptions: string[];
}

export function estimateMigration(plans: CollectionPlan[], options: Pick<JobOptions, 'rowsPerShard' | 'shardConcurrency' | 'batchBytes'>, collectionConcurrency = 4): MigrationEstimate {
  const copied = plans.filter((p) => p.action !== 'skip');
  let rows = 0;
  let bytes = 0;
  let shards = 0;
  let batches = 0;
  let copySeconds = 0;
  let invocations = 0;
  const collectionSeconds: number[] = [];
  for (const p of copied) {
    const s = Math.max(1, Math.ceil(p.rows / options.rowsPerShard));
    const parallel = Math.min(s, options.shardConcurrency);
    const seconds = p.rows / (ASSUMED_ROWS_PER_SECOND * parallel);
    rows += p.rows;
    bytes += p.estimatedBytes;
    shards += s;
    batches += Math.max(s, Math.ceil(p.estimatedBytes / options.batchBytes));
    copySeconds += p.rows / ASSUMED_ROWS_PER_SECOND; // Lambda seconds: every shard's own time
    invocations += Math.max(s, Math.ceil(p.rows / ASSUMED_ROWS_PER_SECOND / COPY_INVOCATION_SECONDS));
    collectionSeconds.push(seconds + PER_COLLECTION_SECONDS);
  }
  // Collections run collectionConcurrency at a time: spread the longest first over that many lanes.
  const lanes = Array.from({ length: Math.max(1, collectionConcurrency) }, () => 0);
  for (const seconds of collectionSeconds.sort((a, b) => b - a)) lanes[lanes.indexOf(Math.min(...lanes))]! += seconds;
  const durationSeconds = Math.ceil(Math.max(...lanes) + 30);

  const lambdaGbSeconds = copySeconds * COPY_MEMORY_GB + copied.length * PER_COLLECTION_SECONDS * OTHER_MEMORY_GB;
  const lambda = lambdaGbSeconds * PRICES_USD.lambdaGbSecond + (invocations + copied.length * 4 + 4) * PRICES_USD.lambdaRequest;
  const stepFunctions = (TRANSITIONS_PER_JOB + copied.length * TRANSITIONS_PER_COLLECTION + invocations * TRANSITIONS_PER_COPY_INVOCATION) * PRICES_USD.stepFunctionsTransition;
  const dynamoDb = (batches * WRU_PER_BATCH + copied.length * WRU_PER_COLLECTION + shards * 2) * PRICES_USD.dynamoWriteRequestUnit;
  const round = (usd: number) => Math.round(usd * 10_000) / 10_000;
  return {
    rows,
    estimatedBytes: bytes,
    shards,
    batches,
    durationSeconds,
    costUsd: { lambda: round(lambda), stepFunctions: round(stepFunctions), dynamoDb: round(dynamoDb), total: round(lambda + stepFunctions + dynamoDb) },
    assumptions: [
      `${ASSUMED_ROWS_PER_SECOND} rows/s per copy shard (README "Copy throughput", 768-d vectors on milvus-lite); up to ${options.shardConcurrency} shards of a collection and ${collectionConcurrency} collections at once`,
      'bytes: rows x a row size estimated from the schema, on the high side (variable-length fields at their maximum)',
      'AWS public on-demand prices, us-east-1, x86: Lambda $0.0000166667/GB-s and $0.20/million requests, Step Functions Standard $0.025/1,000 transitions, DynamoDB on-demand $0.625/million write request units',
      'not counted: free tiers, API Gateway, Secrets Manager, CloudWatch Logs, data transfer between regions or out of AWS',
    ],
  };
}
