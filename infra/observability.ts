import { Duration, Stack, Token } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  Stats,
  TextWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE } from '../functions/metricNames';

export interface MigrationObservabilityProps {
  /** Every step function, by step id: their errors and throttles are graphed. */
  readonly stepFunctions: Readonly<Record<string, IFunction>>;
  /** The API function, graphed with the steps when given. */
  readonly apiFunction?: IFunction;
  /** The migration state machine: failed executions are graphed and alarm. */
  readonly stateMachine: IStateMachine;
  /** Where alarms go (ALARM, and OK for the lag alarm); none when absent. */
  readonly alarmTopic?: ITopic;
  /**
   * The sync lag the lag alarm watches for.
   * @default Duration.seconds(60)
   */
  readonly syncLagThreshold?: Duration;
  /**
   * How long every sampled lag must stay above the threshold before the alarm goes off: a whole
   * number of minutes, at most a day.
   * @default Duration.minutes(30)
   */
  readonly syncLagDuration?: Duration;
}

/** Graphs on the dashboard use this period. */
const GRAPH_PERIOD = Duration.minutes(5);

/**
 * What an operator watches a migration with: a CloudWatch dashboard (throughput, rows copied, sync
 * lag, job outcomes, step Lambda errors and throttles, executions) and two alarms: a job failed,
 * and the sync lag stayed above a threshold for too long. The service metrics are the EMF metrics
 * the step adapter writes (functions/observability.ts, names in functions/metricNames.ts).
 */
export class MigrationObservability extends Construct {
  readonly dashboard: Dashboard;
  /** ExecutionsFailed of the state machine: every failed job ends its execution FAILED (RecordFailure, then MigrationFailed). */
  readonly jobFailedAlarm: Alarm;
  /** The smallest SyncLagSeconds sampled over `syncLagDuration` is above `syncLagThreshold`. */
  readonly syncLagAlarm: Alarm;

  constructor(scope: Construct, id: string, props: MigrationObservabilityProps) {
    super(scope, id);
    const lagThresholdSeconds = (props.syncLagThreshold ?? Duration.seconds(60)).toSeconds();
    const lagDuration = props.syncLagDuration ?? Duration.minutes(30);
    const lagMinutes = lagDuration.toMinutes({ integral: false });
    if (!Token.isUnresolved(lagMinutes) && (!Number.isInteger(lagMinutes) || lagMinutes < 1 || lagMinutes > 24 * 60)) {
      throw new Error(`syncLagDuration must be a whole number of minutes from 1 to 1440 (a CloudWatch alarm period), not ${lagMinutes}`);
    }

    const service = (metricName: string, statistic: string, label: string, period: Duration = GRAPH_PERIOD) =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName, statistic, period, label });
    const rowsCopied = service(METRIC.rowsCopied, Stats.SUM, 'rows copied');
    const syncLag = service(METRIC.syncLagSeconds, Stats.MAXIMUM, 'sync lag (max)');

    // Alarms
    this.jobFailedAlarm = new Alarm(this, 'JobFailed', {
      alarmDescription:
        'milvus-migrate: a migration job failed (its state machine execution ended FAILED). GET /migrations/{id} or `milvus-migrate status` gives the code and reason.',
      metric: props.stateMachine.metricFailed({ period: Duration.minutes(1), statistic: Stats.SUM }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    // SyncChanges samples the lag after every cycle: the alarm looks at the smallest sample of one
    // period as long as the duration, so it goes off only when the lag never came under the
    // threshold during that time. No sync running, no samples: not breaching.
    this.syncLagAlarm = new Alarm(this, 'SyncLagTooHigh', {
      alarmDescription: `milvus-migrate: the sync lag of an online migration stayed above ${lagThresholdSeconds} s for ${lagMinutes} min (the source takes writes faster than the sync applies them, or the sync is stuck).`,
      // No label: a labelled metric would be rendered as a metric math query.
      metric: new Metric({ namespace: METRICS_NAMESPACE, metricName: METRIC.syncLagSeconds, statistic: Stats.MINIMUM, period: lagDuration }),
      threshold: lagThresholdSeconds,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) {
      const action = new SnsAction(props.alarmTopic);
      this.jobFailedAlarm.addAlarmAction(action);
      this.syncLagAlarm.addAlarmAction(action);
      this.syncLagAlarm.addOkAction(action);
    }

    // Dashboard
    const functions = Object.entries({ ...props.stepFunctions, ...(props.apiFunction ? { api: props.apiFunction } : {}) });
    const perFunction = (make: (fn: IFunction) => Metric): IMetric[] =>
      functions.map(([name, fn]) => make(fn).with({ label: name, period: GRAPH_PERIOD, statistic: Stats.SUM }));
    const machine = props.stateMachine;
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: Stack.of(this).stackName,
      defaultInterval: Duration.hours(6),
      widgets: [
        [
          new TextWidget({
            width: 24,
            height: 2,
            markdown:
              '# milvus-migrate\nCopy throughput and rows from CopyShard, sync lag from SyncChanges (online jobs), job outcomes from Finalize and RecordFailure; ' +
              'Lambda and Step Functions metrics below. A job\'s details: `milvus-migrate status <jobId>` or `GET /migrations/{id}`; its log lines carry `jobId`.',
          }),
        ],
        [
          new GraphWidget({
            title: 'Copy throughput (rows/s)',
            width: 12,
            left: [
              new MathExpression({ expression: 'rows / PERIOD(rows)', usingMetrics: { rows: rowsCopied }, label: 'rows/s, all shards', period: GRAPH_PERIOD }),
              service(METRIC.copyRowsPerSecond, Stats.AVERAGE, 'rows/s per CopyShard invocation (average)'),
            ],
            leftYAxis: { min: 0, label: 'rows/s', showUnits: false },
          }),
          new GraphWidget({ title: 'Rows copied', width: 12, left: [rowsCopied], leftYAxis: { min: 0, showUnits: false } }),
        ],
        [
          new GraphWidget({
            title: 'Sync lag (s)',
            width: 12,
            left: [syncLag],
            leftYAxis: { min: 0, label: 'seconds', showUnits: false },
            leftAnnotations: [{ value: lagThresholdSeconds, label: `alarm after ${lagMinutes} min above ${lagThresholdSeconds} s` }],
          }),
          new GraphWidget({
            title: 'Jobs',
            width: 12,
            left: [service(METRIC.jobsFailed, Stats.SUM, 'failed'), service(METRIC.jobsSucceeded, Stats.SUM, 'succeeded')],
            leftYAxis: { min: 0, showUnits: false },
          }),
        ],
        [
          new GraphWidget({ title: 'Lambda errors', width: 12, left: perFunction((fn) => fn.metricErrors()), leftYAxis: { min: 0, showUnits: false } }),
          new GraphWidget({ title: 'Lambda throttles', width: 12, left: perFunction((fn) => fn.metricThrottles()), leftYAxis: { min: 0, showUnits: false } }),
        ],
        [
          new GraphWidget({
            title: 'Step Functions executions',
            width: 12,
            left: [
              machine.metricFailed({ label: 'failed', period: GRAPH_PERIOD, statistic: Stats.SUM }),
              machine.metricTimedOut({ label: 'timed out', period: GRAPH_PERIOD, statistic: Stats.SUM }),
              machine.metricAborted({ label: 'aborted (cancelled)', period: GRAPH_PERIOD, statistic: Stats.SUM }),
              machine.metricSucceeded({ label: 'succeeded', period: GRAPH_PERIOD, statistic: Stats.SUM }),
              machine.metricStarted({ label: 'started', period: GRAPH_PERIOD, statistic: Stats.SUM }),
            ],
            leftYAxis: { min: 0, showUnits: false },
          }),
          new AlarmStatusWidget({ title: 'Alarms', width: 12, alarms: [this.jobFailedAlarm, this.syncLagAlarm] }),
        ],
      ],
    });
  }
}
