/**
 * Cold starts of every Lambda function of the app, as the nodejs22.x runtime would see them.
 *
 *   npm run bench:cold-start [-- --assembly DIR [--assembly OTHER]] [--runs N] [--only api,copyShard] [--node-options '...']
 *
 * Synthesizes the app (`cdk synth`, cached by source hash under the system temp dir) unless
 * `--assembly` names a `cdk synth --output` folder, then runs each function's asset in the local
 * Lambda sandbox (local/lambda: Node 22, a read-only task dir, AWS's runtime interface client, the
 * function's memory, environment and NODE_OPTIONS from the template). Each cold start is a fresh
 * process answering one realistic first invocation:
 *  - a step: a payload whose jobId names no job, so the step reads the job once from DynamoDB Local
 *    and answers with its domain error (an error with a stack trace, as a failing first call has);
 *  - the API: `GET /openapi.json` as an API Gateway proxy event.
 * Prints, per function: index.mjs bytes, init ms (process start to the runtime's first request for
 * an invocation) and first-answer ms (process start to the answer), each the median of N runs.
 * Two `--assembly` folders (before and after a change) are measured turn by turn, function by
 * function, so a busy machine slows both alike. Figures only: nothing here asserts a timing.
 */
import { statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { readAssembly, synthesizeAssembly, type CloudAssembly } from '../local/artifacts/assembly';
import { startDynamoLocal } from '../local/dynamoLocal';
import { LambdaSandbox, type SandboxFunction } from '../local/lambda/sandbox';
import { createJobTable } from '../lib/jobs/table';

const { values } = parseArgs({
  options: { assembly: { type: 'string', multiple: true }, runs: { type: 'string', default: '5' }, only: { type: 'string' }, 'node-options': { type: 'string' } },
});
const runs = Number(values.runs);
const REGION = 'us-east-1';
const TABLE = 'bench-cold-start-jobs';
/** Local values for the template's tokens (Ref, Fn::GetAtt). */
const TOKENS: Record<string, string> = {
  JOBS_TABLE: TABLE,
  CREDENTIALS_KMS_KEY_ID: `arn:aws:kms:${REGION}:000000000000:key/bench`,
  STATE_MACHINE_ARN: `arn:aws:states:${REGION}:000000000000:stateMachine:bench`,
};
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_SESSION_TOKEN: 'local' };

type BenchFunction = SandboxFunction & { event: unknown; bytes: number };
interface Measured {
  bytes: number;
  initMs: number;
  answerMs: number;
  outcome: string;
}

const assemblies: CloudAssembly[] = values.assembly?.length
  ? values.assembly.map((dir) => readAssembly(dir))
  : (console.error('synthesizing the app (npx cdk synth, about 30 s unless cached)...'), [await synthesizeAssembly()]);

const dynamo = await startDynamoLocal();
const logs: string[] = [];
const sandboxes: LambdaSandbox[] = [];
try {
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await createJobTable(client, TABLE);
  client.destroy();

  const perAssembly = assemblies.map((assembly) => {
    const functions = functionsOf(assembly, dynamo.endpoint);
    const sandbox = new LambdaSandbox(
      functions.map(({ event: _event, bytes: _bytes, ...fn }) => fn),
      (fn, line) => logs.push(`${fn}: ${line}`),
    );
    sandboxes.push(sandbox);
    return { functions: new Map(functions.map((fn) => [fn.name, fn])), sandbox };
  });
  const names = [...perAssembly[0].functions.keys()].sort((a, b) => (a === 'api' ? 1 : b === 'api' ? -1 : a.localeCompare(b)));

  console.log(`cold starts: median of ${runs} fresh processes per function, Node 22 sandbox (load average ${loadavg()[0].toFixed(1)})`);
  assemblies.forEach((assembly, i) => console.log(`  [${i}] ${assembly.dir}`));
  const columns = assemblies.length === 1 ? '' : ' (per assembly, [0] → [1])';
  console.log(`${'function'.padEnd(24)}${'index.mjs bytes'.padStart(22)}${'init ms'.padStart(14)}${'answer ms'.padStart(14)}  first answer${columns}`);
  const slowest = assemblies.map(() => 0);
  for (const name of names) {
    const results = perAssembly.map(() => [] as Array<{ initMs: number; firstAnswerMs: number; outcome: string }>);
    // One unrecorded cold start first (it warms DynamoDB Local, a JVM whose first request of a kind
    // takes a second, and the page cache), then the runs, alternating between the assemblies.
    for (let run = 0; run <= runs; run++) {
      for (const [i, { functions, sandbox }] of perAssembly.entries()) {
        const fn = functions.get(name);
        if (!fn) continue;
        const lambda = sandbox.get(name);
        const result = await lambda.invoke(fn.event);
        if (!result.ok && process.env.BENCH_SHOW_LOGS && run === 0) logs.push(`${name} trace:\n  ${(result.error.trace ?? []).join('\n  ')}`);
        const outcome = result.ok ? `ok ${String((result.payload as { statusCode?: number })?.statusCode ?? '')}`.trim() : `${result.error.errorType}: ${result.error.errorMessage}`;
        await lambda.stop(); // the next invocation cold-starts a fresh process
        if (run > 0) results[i].push({ ...lambda.coldStarts.at(-1)!, outcome });
      }
    }
    const measured: Array<Measured | undefined> = perAssembly.map(({ functions }, i) => {
      const fn = functions.get(name);
      if (!fn) return undefined;
      return {
        bytes: fn.bytes,
        initMs: median(results[i].map((r) => r.initMs)),
        answerMs: median(results[i].map((r) => r.firstAnswerMs)),
        outcome: results[i].at(-1)?.outcome ?? '',
      };
    });
    measured.forEach((m, i) => (slowest[i] = Math.max(slowest[i], m?.answerMs ?? 0)));
    const cell = (pick: (m: Measured) => string) => measured.map((m) => (m ? pick(m) : '-')).join(' → ');
    const outcomes = [...new Set(measured.map((m) => m?.outcome.slice(0, 60)))].join(' | ');
    console.log(
      `${name.padEnd(24)}${cell((m) => m.bytes.toLocaleString('en-US')).padStart(22)}${cell((m) => String(m.initMs)).padStart(14)}${cell((m) => String(m.answerMs)).padStart(14)}  ${outcomes}`,
    );
  }
  console.log(`slowest first answer: ${slowest.map((ms) => `${ms} ms`).join(' → ')}`);
} finally {
  await Promise.all(sandboxes.map((sandbox) => sandbox.stop()));
  await dynamo.stop();
}
if (process.env.BENCH_SHOW_LOGS) console.error(logs.join('\n'));

/** The functions of a synthesized app, with the local environment and first event of each. */
function functionsOf(assembly: CloudAssembly, dynamoEndpoint: string): BenchFunction[] {
  const functions: BenchFunction[] = [];
  for (const [logicalId, resource] of Object.entries(assembly.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function' || !resource.Properties) continue;
    const props = resource.Properties;
    const variables = (props.Environment?.Variables ?? {}) as Record<string, unknown>;
    const stepId = typeof variables.STEP_ID === 'string' ? variables.STEP_ID : undefined;
    const name = stepId ?? (logicalId.startsWith('FunctionsApi') ? 'api' : logicalId);
    if (values.only && !values.only.split(',').includes(name)) continue;
    // Tokens (the table's Ref, the key's ARN) become local values; the literal ones (NODE_OPTIONS, STEP_ID) stay.
    const environment: Record<string, string> = { ...CREDENTIALS, AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint };
    for (const [key, value] of Object.entries(variables)) environment[key] = typeof value === 'string' ? value : (TOKENS[key] ?? `bench-${key}`);
    // To weigh a flag (e.g. --node-options='' for no --enable-source-maps) without a new synth.
    if (values['node-options'] !== undefined) environment.NODE_OPTIONS = values['node-options'];
    const assetDir = assembly.assetDir(logicalId);
    functions.push({
      name,
      arn: `arn:aws:lambda:${REGION}:000000000000:function:${name}`,
      handler: String(props.Handler),
      memoryMiB: Number(props.MemorySize ?? 128),
      timeoutSeconds: Number(props.Timeout ?? 30),
      environment,
      logGroupName: `/aws/lambda/${name}`,
      region: REGION,
      assetDir,
      bytes: statSync(join(assetDir, 'index.mjs')).size,
      event: stepId ? stepEvent(stepId) : openApiRequest(),
    });
  }
  return functions;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

/** A step's first call for a job that does not exist: RecordFailure gets what a Catch passes it. */
function stepEvent(stepId: string) {
  const jobId = 'bench-no-such-job';
  return stepId === 'recordFailure' ? { jobId, step: 'CopyShard', error: { Error: 'MilvusUnavailableError', Cause: '[MILVUS_UNAVAILABLE] the source did not answer' } } : { jobId };
}

function openApiRequest() {
  return {
    resource: '/openapi.json',
    path: '/openapi.json',
    httpMethod: 'GET',
    headers: { Accept: 'application/json' },
    multiValueHeaders: { Accept: ['application/json'] },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: { resourcePath: '/openapi.json', httpMethod: 'GET', path: '/prod/openapi.json', stage: 'prod', requestId: 'bench' },
    body: null,
    isBase64Encoded: false,
  };
}
