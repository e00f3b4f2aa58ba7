import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../functions/api';
import { METRIC, METRICS_NAMESPACE } from '../../functions/metricNames';
import { recordSyncLag } from '../../functions/observability';
import { stepHandler } from '../../functions/stepHandler';
import { MigrationObservability } from '../../infra/observability';
import { synthesizeTemplate, type CfnTemplate } from '../../infra/synth';
import { PermanentError } from '../../lib/errors';
import type { Services } from '../../lib/services';
import { STEP_IDS, type RecordFailureInput, type ShardInput } from '../../lib/workflow/steps';

// ---------------------------------------------------------------------------------------------
// The dashboard and the alarms in the synthesized template

let json: CfnTemplate;
let template: Template;
beforeAll(() => {
  json = synthesizeTemplate();
  template = Template.fromJSON(json);
});

/** A CloudFormation token as a plain string, so the dashboard body parses as JSON. */
function tokenText(token: unknown): string {
  const value = token as Record<string, unknown>;
  if ('Ref' in value) return `<Ref:${String(value.Ref)}>`;
  if ('Fn::GetAtt' in value) return `<GetAtt:${(value['Fn::GetAtt'] as string[]).join('.')}>`;
  return `<${JSON.stringify(value).replace(/"/g, "'")}>`;
}

function dashboardBody(): { widgets: Array<{ type: string; properties: Record<string, any> }> } {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0].Properties.DashboardBody;
  const text = typeof body === 'string' ? body : (body['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : tokenText(part))).join('');
  return JSON.parse(text);
}

interface GraphedMetric {
  namespace?: string;
  name?: string;
  dimensions: Record<string, string>;
  options: Record<string, any>;
}

/** The metrics of a graph widget: `[namespace, name, dim, value, ..., {options}]` or `[{expression...}]`. */
function graphed(widget: { properties: Record<string, any> }): GraphedMetric[] {
  return (widget.properties.metrics as unknown[][]).map((row) => {
    const options = (typeof row[row.length - 1] === 'object' ? row[row.length - 1] : {}) as Record<string, any>;
    const names = row.filter((item): item is string => typeof item === 'string');
    if (names.length === 0) return { dimensions: {}, options };
    const [namespace, name, ...pairs] = names;
    const dimensions: Record<string, string> = {};
    for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i]!] = pairs[i + 1]!;
    return { namespace, name, dimensions, options };
  });
}

const stepFunctionIds = () =>
  Object.entries(json.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Environment?.Variables?.STEP_ID)
    .map(([logicalId]) => logicalId);

describe('dashboard', () => {
  it('has the throughput, rows, lag, jobs, Lambda and Step Functions widgets and the alarms', () => {
    const { widgets } = dashboardBody();
    const byTitle = Object.fromEntries(widgets.filter((w) => w.properties.title).map((w) => [w.properties.title as string, w]));
    expect(Object.keys(byTitle).sort()).toEqual(
      ['Alarms', 'Copy throughput (rows/s)', 'Jobs', 'Lambda errors', 'Lambda throttles', 'Rows copied', 'Step Functions executions', 'Sync lag (s)'].sort(),
    );

    const throughput = graphed(byTitle['Copy throughput (rows/s)']!);
    expect(throughput.find((m) => m.options.expression)?.options.expression).toBe('rows / PERIOD(rows)');
    expect(throughput.find((m) => m.name === METRIC.rowsCopied)).toMatchObject({ namespace: METRICS_NAMESPACE, dimensions: {}, options: { stat: 'Sum', id: 'rows' } });
    const perInvocation = throughput.find((m) => m.name === METRIC.copyRowsPerSecond)!;
    expect(perInvocation).toMatchObject({ namespace: METRICS_NAMESPACE, dimensions: {} });
    expect(perInvocation.options.stat ?? 'Average').toBe('Average'); // the dashboard default, left out
    expect(graphed(byTitle['Rows copied']!)).toEqual([expect.objectContaining({ namespace: METRICS_NAMESPACE, name: METRIC.rowsCopied, dimensions: {} })]);

    const lag = byTitle['Sync lag (s)']!;
    expect(graphed(lag)).toEqual([expect.objectContaining({ namespace: METRICS_NAMESPACE, name: METRIC.syncLagSeconds, options: expect.objectContaining({ stat: 'Maximum' }) })]);
    expect(lag.properties.annotations.horizontal[0].value).toBe(60);

    expect(graphed(byTitle.Jobs!).map((m) => [m.name, m.options.stat])).toEqual([
      [METRIC.jobsFailed, 'Sum'],
      [METRIC.jobsSucceeded, 'Sum'],
    ]);

    // Every step function (and the API function), by its FunctionName.
    const apiId = Object.entries(json.Resources).find(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Environment?.Variables?.STATE_MACHINE_ARN)![0];
    const expected = [...stepFunctionIds(), apiId].map((id) => `<Ref:${id}>`).sort();
    expect(stepFunctionIds()).toHaveLength(STEP_IDS.length);
    for (const [title, metric] of [
      ['Lambda errors', 'Errors'],
      ['Lambda throttles', 'Throttles'],
    ] as const) {
      const metrics = graphed(byTitle[title]!);
      expect(metrics.every((m) => m.namespace === 'AWS/Lambda' && m.name === metric && m.options.stat === 'Sum'), title).toBe(true);
      expect(metrics.map((m) => m.dimensions.FunctionName).sort(), title).toEqual(expected);
    }
    expect(graphed(byTitle['Lambda errors']!).map((m) => m.options.label)).toEqual(expect.arrayContaining([...STEP_IDS, 'api']));

    const machine = Object.entries(json.Resources).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')![0];
    const executions = graphed(byTitle['Step Functions executions']!);
    expect(executions.map((m) => m.name)).toEqual(['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted', 'ExecutionsSucceeded', 'ExecutionsStarted']);
    for (const m of executions) expect(m).toMatchObject({ namespace: 'AWS/States', dimensions: { StateMachineArn: `<Ref:${machine}>` } });

    const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    expect(byTitle.Alarms!.type).toBe('alarm');
    expect((byTitle.Alarms!.properties.alarms as string[]).sort()).toEqual(alarmIds.map((id) => `<GetAtt:${id}.Arn>`).sort());
  });
});

describe('alarms', () => {
  const topicRef = () => ({ Ref: Match.stringLikeRegexp('^NotificationsAlerts') });

  it('alarms on a failed job (ExecutionsFailed of the state machine) to the alert topic', () => {
    const machine = Object.entries(json.Resources).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')![0];
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: machine } }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [topicRef()],
    });
  });

  it('alarms when the sync lag stays above 60 s for 30 min, and says when it recovers', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.syncLagSeconds,
      Statistic: 'Minimum',
      Period: 1800,
      Threshold: 60,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [topicRef()],
      OKActions: [topicRef()],
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
  });

  function standalone(props: Partial<ConstructorParameters<typeof MigrationObservability>[2]> = {}) {
    const stack = new Stack(new App({ builtinCloudFormationValidation: false }), 'Standalone', { env: { account: '123456789012', region: 'eu-west-1' } });
    const fn = LambdaFunction.fromFunctionArn(stack, 'Fn', 'arn:aws:lambda:eu-west-1:123456789012:function:copy');
    const stateMachine = StateMachine.fromStateMachineArn(stack, 'Machine', 'arn:aws:states:eu-west-1:123456789012:stateMachine:migrate');
    new MigrationObservability(stack, 'Observability', { stepFunctions: { copyShard: fn }, stateMachine, ...props });
    return Template.fromStack(stack);
  }

  it('takes the lag threshold and duration as props, and no actions without a topic', () => {
    const custom = standalone({ syncLagThreshold: Duration.minutes(2), syncLagDuration: Duration.minutes(45) });
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: METRIC.syncLagSeconds, Threshold: 120, Period: 2700 });
    for (const alarm of Object.values(custom.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
      expect(alarm.Properties.OKActions).toBeUndefined();
    }
    const withTopic = new Stack(new App({ builtinCloudFormationValidation: false }), 'WithTopic');
    const topic = new Topic(withTopic, 'Topic');
    new MigrationObservability(withTopic, 'Observability', {
      stepFunctions: {},
      stateMachine: StateMachine.fromStateMachineArn(withTopic, 'Machine', 'arn:aws:states:eu-west-1:123456789012:stateMachine:migrate'),
      alarmTopic: topic,
    });
    for (const alarm of Object.values(Template.fromStack(withTopic).findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
    }
  });

  it('refuses a lag duration CloudWatch cannot use as an alarm period', () => {
    expect(() => standalone({ syncLagDuration: Duration.seconds(90) })).toThrow(/whole number of minutes/);
    expect(() => standalone({ syncLagDuration: Duration.days(2) })).toThrow(/1 to 1440/);
  });
});

// ---------------------------------------------------------------------------------------------
// Structured logs and EMF metrics of the step adapter

/** Everything written to stdout and stderr while `run` runs, as lines. */
async function capture(run: () => Promise<unknown>): Promise<{ stdout: string[]; stderr: string[]; error?: unknown }> {
  const written = { stdout: [] as string[], stderr: [] as string[] };
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].write = ((chunk: unknown) => {
      written[name].push(...String(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array)).split('\n').filter(Boolean));
      return true;
    }) as typeof process.stdout.write;
  }
  let error: unknown;
  try {
    await run();
  } catch (caught) {
    error = caught;
  } finally {
    process.stdout.write = originals.stdout;
    process.stderr.write = originals.stderr;
  }
  return { ...written, error };
}

const parse = (lines: string[]) => lines.map((line) => JSON.parse(line) as Record<string, any>);
const emf = (entries: Array<Record<string, any>>) => entries.filter((e) => e._aws);
const logs = (entries: Array<Record<string, any>>) => entries.filter((e) => !e._aws);
const metricNames = (entry: Record<string, any>) => entry._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);

function fakeServices(options: { shardRows?: number; jobStatus?: string } = {}) {
  const calls = { getShard: 0, get: 0 };
  const services = {
    jobs: {
      getShard: async () => (calls.getShard++, { rowsCopied: options.shardRows ?? 100 }),
      get: async () => (calls.get++, { status: options.jobStatus ?? 'FAILED' }),
    },
    credentials: {},
    notifier: { publish: async () => undefined },
    openCluster: () => {
      throw new Error('no cluster in this test');
    },
    now: () => new Date(),
  } as unknown as Services;
  return { services, calls };
}

const shard: ShardInput = { jobId: 'mig-obs-1', collectionKey: 'default.books', shardIndex: 3 };
const copyStep = stepHandler('copyShard', async () => {
  await new Promise((resolve) => setTimeout(resolve, 25));
  return { done: false, rowsCopied: 600 };
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('step handler logs and metrics', () => {
  it('writes JSON log lines with the job id and step, and CopyShard rows and rows/s as EMF', async () => {
    vi.stubEnv('MILVUS_MIGRATE_STEP_LOG', 'stdout');
    const { services, calls } = fakeServices({ shardRows: 100 });
    const out = await capture(() => copyStep.withServices(() => services)(shard));
    expect(out.error).toBeUndefined();
    expect(out.stderr).toEqual([]);
    const entries = parse(out.stdout);
    for (const entry of entries) expect(entry.jobId, JSON.stringify(entry)).toBe('mig-obs-1');

    const [line, ...more] = logs(entries);
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 'INFO', message: 'step completed', service: 'milvus-migrate', step: 'copyShard', jobId: 'mig-obs-1', durationMs: expect.any(Number) });
    expect(line!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);

    const [metrics, ...others] = emf(entries);
    expect(others).toEqual([]);
    expect(calls.getShard).toBe(1);
    expect(metrics!._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'MilvusMigrate',
        Dimensions: [],
        Metrics: [
          { Name: 'RowsCopied', Unit: 'Count' },
          { Name: 'CopyRowsPerSecond', Unit: 'Count/Second' },
        ],
      },
    ]);
    expect(metrics!.RowsCopied).toBe(500); // 600 after the invocation - 100 before it
    expect(metrics!.CopyRowsPerSecond).toBeGreaterThan(0);
    expect(metrics!.CopyRowsPerSecond).toBeLessThanOrEqual(500 / 0.02);
    expect(metrics!.step).toBe('copyShard');
  });

  it('samples the lag of every sync cycle as it is recorded, one SyncLagSeconds line each, none when step logs are off', async () => {
    vi.stubEnv('MILVUS_MIGRATE_STEP_LOG', 'stdout');
    const lines = emf(parse((await capture(async () => [3.5, 2].forEach((lag, i) => recordSyncLag('mig-obs-3', lag, i + 7)))).stdout));
    expect(lines.map(metricNames)).toEqual([['SyncLagSeconds'], ['SyncLagSeconds']]);
    expect(lines[0]).toMatchObject({ SyncLagSeconds: 3.5, jobId: 'mig-obs-3', step: 'syncChanges', cycle: '7', _aws: { CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Metrics: [{ Name: 'SyncLagSeconds', Unit: 'Seconds' }] }] } });
    expect(lines[1]).toMatchObject({ SyncLagSeconds: 2, cycle: '8' });
    vi.stubEnv('MILVUS_MIGRATE_STEP_LOG', 'off');
    expect((await capture(async () => recordSyncLag('mig-obs-3', 1, 9))).stdout).toEqual([]);
  });

  it('turns SyncChanges lag, RecordFailure and Finalize into SyncLagSeconds, JobsFailed and JobsSucceeded', async () => {
    vi.stubEnv('MILVUS_MIGRATE_STEP_LOG', 'stdout');
    const failedJob = fakeServices({ jobStatus: 'FAILED' }).services;
    const given = () => failedJob;
    const job = { jobId: 'mig-obs-2' };
    const sync = (lag: number | null) => stepHandler('syncChanges', async () => ({ state: 'SYNCING' as const, syncLagSeconds: lag, waitSeconds: 30 }), given);
    const lagged = emf(parse((await capture(() => sync(42.5)(job))).stdout));
    expect(lagged.map(metricNames)).toEqual([['SyncLagSeconds']]);
    expect(lagged[0]).toMatchObject({ SyncLagSeconds: 42.5, jobId: 'mig-obs-2', _aws: { CloudWatchMetrics: [{ Metrics: [{ Name: 'SyncLagSeconds', Unit: 'Seconds' }] }] } });
    expect(emf(parse((await capture(() => sync(null)(job))).stdout))).toEqual([]);

    const failed = emf(parse((await capture(() => stepHandler('recordFailure', async (_services, _input: RecordFailureInput) => undefined, given)({ ...job, error: { Error: 'X' } }))).stdout));
    expect(failed).toEqual([expect.objectContaining({ JobsFailed: 1, jobId: 'mig-obs-2' })]);
    expect(metricNames(failed[0]!)).toEqual([METRIC.jobsFailed]);
    const succeeded = emf(parse((await capture(() => stepHandler('finalize', async () => undefined, given)(job))).stdout));
    expect(succeeded).toEqual([expect.objectContaining({ JobsSucceeded: 1 })]);
    expect(metricNames(succeeded[0]!)).toEqual([METRIC.jobsSucceeded]);

    // RecordFailure leaves a job cancelled meanwhile alone: not a failed job.
    const cancelledJob = fakeServices({ jobStatus: 'CANCELLED' }).services;
    expect(emf(parse((await capture(() => stepHandler('recordFailure', async (_services, _input: RecordFailureInput) => undefined, () => cancelledJob)({ ...job, error: { Error: 'X' } }))).stdout))).toEqual([]);
  });

  it('logs a failure as one ERROR line with the job id, the code and no credentials, and no metrics', async () => {
    vi.stubEnv('MILVUS_MIGRATE_STEP_LOG', 'stdout');
    const { services } = fakeServices();
    const failing = stepHandler(
      'copyShard',
      async () => {
        throw new PermanentError('SOURCE_UNREACHABLE', 'cannot reach http://admin:Sup3rSecret@10.0.0.5:19530');
      },
      () => services,
    );
    const out = await capture(() => failing(shard));
    expect(out.error).toMatchObject({ name: 'PermanentError', message: '[SOURCE_UNREACHABLE] cannot reach http://admin:Sup3rSecret@10.0.0.5:19530' });
    const entries = parse(out.stdout);
    expect(emf(entries)).toEqual([]);
    expect(logs(entries)).toEqual([
      expect.objectContaining({ level: 'ERROR', jobId: 'mig-obs-1', step: 'copyShard', error: 'PermanentError', message: '[SOURCE_UNREACHABLE] cannot reach http://10.0.0.5:19530' }),
    ]);
    expect(out.stdout.join('\n')).not.toContain('Sup3rSecret');
  });

  it('adds the Lambda request to every line when a Lambda context is given', async () => {
    vi.stubEnv('MILVUS_MIGRATE_STEP_LOG', 'stdout');
    const { services } = fakeServices();
    const context = { awsRequestId: 'req-123', functionName: 'Step-copyShard', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:1:function:x', memoryLimitInMB: '1024', functionVersion: '$LATEST', getRemainingTimeInMillis: () => 900_000 };
    const [line] = logs(parse((await capture(() => copyStep.withServices(() => services)(shard, context))).stdout));
    expect(line).toMatchObject({ function_request_id: 'req-123', function_name: 'Step-copyShard', jobId: 'mig-obs-1' });
  });

  it('follows MILVUS_MIGRATE_STEP_LOG locally: stderr moves logs and metrics, off silences both', async () => {
    const { services, calls } = fakeServices();
    const step = copyStep.withServices(() => services);
    vi.stubEnv('MILVUS_MIGRATE_STEP_LOG', 'stderr');
    const toStderr = await capture(() => step(shard));
    expect(toStderr.stdout).toEqual([]);
    const entries = parse(toStderr.stderr);
    expect(logs(entries)).toHaveLength(1);
    expect(emf(entries)).toHaveLength(1);

    vi.stubEnv('MILVUS_MIGRATE_STEP_LOG', 'off');
    const before = calls.getShard;
    const silent = await capture(() => step(shard));
    expect(silent).toEqual({ stdout: [], stderr: [], error: undefined });
    expect(calls.getShard).toBe(before); // no read for metrics nobody sees
  });
});

describe('API error logs', () => {
  it('logs an unexpected API error as a JSON line in Lambda, without credentials', async () => {
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'milvus-migrate-api');
    const api = createApiHandler(() => {
      throw new Error('could not open http://admin:Sup3rSecret@db:19530');
    });
    const event = { resource: '/migrations', path: '/migrations', httpMethod: 'GET', headers: {}, queryStringParameters: null, pathParameters: null, body: null, isBase64Encoded: false } as unknown as APIGatewayProxyEvent;
    let status = 0;
    const out = await capture(async () => (status = (await api(event, { awsRequestId: 'req-9' } as Context)).statusCode));
    expect(status).toBe(500);
    const [line] = parse(out.stdout);
    expect(line).toMatchObject({
      level: 'ERROR',
      service: 'milvus-migrate',
      message: 'unexpected error in the API',
      method: 'GET',
      resource: '/migrations',
      requestId: 'req-9',
      error: { name: 'Error', message: 'could not open http://db:19530' },
    });
    expect([...out.stdout, ...out.stderr].join('\n')).not.toContain('Sup3rSecret');
  });
});
