import { Logger, LogLevelThreshold, type LogItem } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { Services } from '../lib/services';
import type { CopyShardOutput, ShardInput, StepId, SyncChangesOutput } from '../lib/workflow/steps';
import { METRIC, METRICS_NAMESPACE } from './metricNames';

/**
 * Structured logs and metrics of the Lambda adapters (Powertools Logger and Metrics). The domain
 * (lib/) knows nothing of them: the step adapter logs each outcome and turns step outputs into
 * metrics here.
 */

const SERVICE_NAME = 'milvus-migrate';

/** Where a JSON line goes: stdout or stderr as is, the console (console.log / console.error), or nowhere. */
export type LogSink = 'stdout' | 'stderr' | 'console' | 'off';

/**
 * Steps: stdout in Lambda (CloudWatch Logs, where EMF lines become metrics). Locally
 * MILVUS_MIGRATE_STEP_LOG=stderr|off moves or silences both log lines and metric lines (the CLI
 * and the tests use `off`); any other value is stdout.
 */
function stepLogSink(): LogSink {
  const value = process.env.MILVUS_MIGRATE_STEP_LOG;
  return value === 'off' || value === 'stderr' ? value : 'stdout';
}

/**
 * API: stdout in Lambda; locally the console, where `milvus-migrate serve` shows the API's
 * unexpected errors (it has no other log) and tests watch console.error.
 */
function apiLogSink(): LogSink {
  return process.env.AWS_LAMBDA_FUNCTION_NAME ? 'stdout' : 'console';
}

function write(sink: LogSink, line: string, isError: boolean): void {
  if (sink === 'off') return;
  if (sink === 'stdout') process.stdout.write(`${line}\n`);
  else if (sink === 'stderr') process.stderr.write(`${line}\n`);
  else if (isError) console.error(line);
  else console.log(line);
}

type LoggerOptions = NonNullable<ConstructorParameters<typeof Logger>[0]>;

/**
 * The Powertools Logger, printing one JSON line per entry to a sink chosen at print time (so the
 * environment switch applies to a logger made before it changed). Powertools itself writes to
 * process.stdout/stderr through its own Console, which no switch reaches.
 */
class SinkLogger extends Logger {
  private sink?: () => LogSink;

  constructor(options: LoggerOptions, sink: () => LogSink) {
    super(options);
    this.sink = sink;
  }

  protected override printLog(logLevel: number, log: LogItem): void {
    // Powertools may print from its own constructor, before `sink` is set.
    const sink = this.sink?.() ?? 'stdout';
    if (sink === 'off') return;
    log.prepareForPrint();
    write(sink, JSON.stringify(log.getAttributes(), this.getJsonReplacer()), logLevel >= LogLevelThreshold.ERROR);
  }
}

/** The logger of one step invocation: every line carries the job id and the step (and the Lambda request, on AWS). */
export function stepLogger(stepId: StepId, jobId: string, context: object): Logger {
  // One logger per invocation: the local runtime runs many steps of many jobs at once in one process.
  const logger = new SinkLogger({ serviceName: SERVICE_NAME, persistentKeys: { jobId, step: stepId } }, stepLogSink);
  if (typeof (context as Partial<Context>).awsRequestId === 'string') logger.addContext(context as Context);
  return logger;
}

/** The API function's logger (its lines carry their request's details as extra keys). */
export const apiLogger = new SinkLogger({ serviceName: SERVICE_NAME, persistentKeys: { function: 'api' } }, apiLogSink);

// ---------------------------------------------------------------------------------------------
// Metrics

interface StepOutcome {
  input: unknown;
  output: unknown;
  durationMs: number;
  /** What the hook's `before` read, when it could. */
  before: unknown;
}

interface StepMetricsHook {
  /** Read before the step runs; a failure leaves `before` undefined. */
  before?(services: Services, input: unknown): Promise<unknown>;
  after(metrics: Metrics, outcome: StepOutcome, services: Services): void | Promise<void>;
}

/** Which steps feed which metrics. */
const STEP_METRICS: Partial<Record<StepId, StepMetricsHook>> = {
  copyShard: {
    // The output counts the shard's rows so far; the rows of this invocation are the difference.
    before: async (services, input) => {
      const { jobId, collectionKey, shardIndex } = input as ShardInput;
      return (await services.jobs.getShard(jobId, collectionKey, shardIndex))?.rowsCopied;
    },
    after(metrics, { output, durationMs, before }) {
      if (typeof before !== 'number') return;
      const rows = (output as CopyShardOutput).rowsCopied - before;
      if (!(rows >= 0)) return; // re-planned meanwhile: not this invocation's rows
      metrics.addMetric(METRIC.rowsCopied, MetricUnit.Count, rows);
      if (rows > 0 && durationMs > 0) metrics.addMetric(METRIC.copyRowsPerSecond, MetricUnit.CountPerSecond, rows / (durationMs / 1000));
    },
  },
  syncChanges: {
    after(metrics, { output }) {
      const lag = (output as SyncChangesOutput).syncLagSeconds;
      if (typeof lag === 'number' && Number.isFinite(lag)) metrics.addMetric(METRIC.syncLagSeconds, MetricUnit.Seconds, lag);
    },
  },
  recordFailure: {
    // RecordFailure leaves a job cancelled meanwhile as it is: count only a job it marked FAILED.
    async after(metrics, { input }, services) {
      const job = await services.jobs.get((input as { jobId: string }).jobId).catch(() => undefined);
      if (job === undefined || job.status === 'FAILED') metrics.addMetric(METRIC.jobsFailed, MetricUnit.Count, 1);
    },
  },
  finalize: {
    after(metrics) {
      metrics.addMetric(METRIC.jobsSucceeded, MetricUnit.Count, 1);
    },
  },
};

/**
 * The metrics of one step invocation, if the step has any: `start` before the step, `finish` with
 * its output. Never throws: a metric that cannot be measured is left out and logged as a warning.
 */
export function stepMetrics(stepId: StepId, services: Services, input: { jobId: string }, logger: Logger) {
  const hook = STEP_METRICS[stepId];
  const sink = stepLogSink();
  if (!hook || sink === 'off') return { start: async () => undefined, finish: async () => undefined };
  let before: unknown;
  return {
    async start(): Promise<void> {
      try {
        before = await hook.before?.(services, input);
      } catch (error) {
        logger.warn('metrics: could not read what the step starts from', { error: errorName(error) });
      }
    },
    async finish(output: unknown, durationMs: number): Promise<void> {
      try {
        const metrics = stepMetricSet(input.jobId, stepId);
        await hook.after(metrics, { input, output, durationMs, before }, services);
        publish(metrics, sink);
      } catch (error) {
        logger.warn('metrics: could not record the step metrics', { error: errorName(error) });
      }
    },
  };
}

/**
 * One SyncLagSeconds sample, written at once: a SyncChanges invocation runs for up to 13.5
 * minutes and many cycles, and the lag alarm needs every cycle's lag, not only the last.
 */
export function recordSyncLag(jobId: string, syncLagSeconds: number, cycle: number): void {
  const sink = stepLogSink();
  if (sink === 'off' || !Number.isFinite(syncLagSeconds)) return;
  const metrics = stepMetricSet(jobId, 'syncChanges');
  metrics.addMetadata('cycle', String(cycle));
  metrics.addMetric(METRIC.syncLagSeconds, MetricUnit.Seconds, syncLagSeconds);
  publish(metrics, sink);
}

/** An empty metric set of one step of one job: the job and step ride along as metadata. */
function stepMetricSet(jobId: string, stepId: StepId): Metrics {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  metrics.clearDefaultDimensions(); // no `service` dimension: one series per metric
  metrics.addMetadata('jobId', jobId);
  metrics.addMetadata('step', stepId);
  return metrics;
}

/** Writes the stored metrics as one EMF line to the sink (Powertools' own publish writes to stdout only). */
function publish(metrics: Metrics, sink: LogSink): void {
  try {
    if (metrics.hasStoredMetrics()) write(sink, JSON.stringify(metrics.serializeMetrics()), false);
  } finally {
    metrics.clearMetrics();
    metrics.clearMetadata();
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown error';
}
