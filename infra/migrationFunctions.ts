import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Annotations, ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Code, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { STEP_IDS, type StepId } from '../lib/workflow/steps';
import type { MigrationNetwork } from './migrationNetwork';

/** Secrets the API saves request credentials in; steps read them back. */
const SECRET_NAME_PREFIX = 'milvus-migrate/';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const entryPath = (relative: string): string => fileURLToPath(new URL(`../${relative}`, import.meta.url));

/**
 * Per step sizing. CopyShard gets 1024 MB for the CPU, not the memory: the Milvus SDK's row/column
 * encoding is CPU bound (field notes: 11.9 s of client CPU for 20,000 768-d rows) and Lambda CPU
 * grows with memory; its batches (1 MiB and 256 rows by default) fit well inside 512 MB (README,
 * Lambda sizing).
 * Its 15 minute timeout is the Lambda maximum; the step stops at its own time budget before that
 * and the state machine calls it again (CopyShardOutput.done = false).
 */
export const STEP_SIZING: Record<StepId, { memoryMiB: number; timeout: Duration }> = {
  preflight: { memoryMiB: 512, timeout: Duration.minutes(2) },
  planShards: { memoryMiB: 512, timeout: Duration.minutes(5) },
  // One DynamoDB read of a copy batch (at most ~60 KB).
  loadCopyBatch: { memoryMiB: 256, timeout: Duration.minutes(1) },
  createTargetCollection: { memoryMiB: 512, timeout: Duration.minutes(2) },
  copyShard: { memoryMiB: 1024, timeout: Duration.minutes(15) },
  buildIndexes: { memoryMiB: 512, timeout: Duration.minutes(5) },
  verify: { memoryMiB: 512, timeout: Duration.minutes(5) },
  // Loads the collections when options.loadAfterMigration asks (waits up to 90 s per try, retried on LOAD_PENDING).
  finalize: { memoryMiB: 512, timeout: Duration.minutes(5) },
  recordFailure: { memoryMiB: 512, timeout: Duration.minutes(1) },
  copyAccessControl: { memoryMiB: 512, timeout: Duration.minutes(5) },
  startSync: { memoryMiB: 512, timeout: Duration.minutes(1) },
  // Like CopyShard: runs sync cycles until its budget (the Lambda maximum less a margin), then the state machine waits and calls it again.
  syncChanges: { memoryMiB: 1024, timeout: Duration.minutes(15) },
  drainChanges: { memoryMiB: 1024, timeout: Duration.minutes(15) },
  verifySync: { memoryMiB: 1024, timeout: Duration.minutes(15) },
};

/** Steps that connect to the clusters, so read the credentials; the others never see them. */
export const CONNECTING_STEPS: readonly StepId[] = [
  'preflight',
  'planShards',
  'createTargetCollection',
  'copyShard',
  'buildIndexes',
  'verify',
  'finalize', // loads the collections (options.loadAfterMigration)
  'copyAccessControl',
  'syncChanges',
  'drainChanges',
  'verifySync',
];
/** Steps that notify the operator through EventBridge (lag alert, job succeeded, job failed). */
export const NOTIFYING_STEPS: readonly StepId[] = ['syncChanges', 'finalize', 'recordFailure'];
/** Steps that end a job, so delete the secrets the API created for it. */
export const RELEASING_STEPS: readonly StepId[] = ['finalize', 'recordFailure'];

/**
 * Packages a dependency requires when it loads but no function ever calls, each replaced in the
 * bundles by infra/bundling/leftOut.cjs (a stand-in that fails, naming what was used, if anything
 * ever is). The Milvus SDK's index loads its BulkWriter, whose Parquet output pulls in
 * @shanghaikid/parquetjs and with it thrift, bson, ws and the whole S3 client: about 1 MB of the
 * 2.8 MB each function parsed on every cold start (bench/coldStart.ts). Nothing here writes Parquet.
 */
const LEFT_OUT_PACKAGES: readonly string[] = ['@shanghaikid/parquetjs'];
const LEFT_OUT_STUB = fileURLToPath(new URL('./bundling/leftOut.cjs', import.meta.url));
const TRIM_SOURCE_MAP = fileURLToPath(new URL('./bundling/trimSourceMap.mjs', import.meta.url));

export interface MigrationFunctionsProps {
  readonly table: ITable;
  /** The customer-managed key of the secrets the API creates. */
  readonly credentialsKey: IKey;
  /** The VPC that VPC_STEPS and the API run in. @default no VPC */
  readonly network?: MigrationNetwork;
}

/**
 * What goes into the VPC when there is one: what opens connections to the clusters. The connecting
 * steps, and the API, whose POST /migrations/preflight connects to both clusters
 * (lib/api/service.ts). The other steps (recordFailure, startSync) talk only to AWS services and
 * stay outside: no network interfaces to wait for, and recordFailure can still record a job and
 * send its failure alert when the failure is the VPC's own (no route to DynamoDB, say).
 * @alias of CONNECTING_STEPS today, kept as its own name: the two rules could part.
 */
export const VPC_STEPS: readonly StepId[] = CONNECTING_STEPS;

/**
 * The Lambda functions: one per state machine step (functions/steps/<stepId>.ts) and the REST API
 * (functions/api.ts). ESM bundles for Node 22, with `require` provided for CommonJS dependencies.
 */
export class MigrationFunctions extends Construct {
  readonly steps: Record<StepId, NodejsFunction>;
  readonly api: NodejsFunction;

  constructor(scope: Construct, id: string, props: MigrationFunctionsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const secretsArn = stack.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${SECRET_NAME_PREFIX}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    const steps = {} as Record<StepId, NodejsFunction>;
    for (const stepId of STEP_IDS) {
      const fn = this.nodeFunction(`Step-${stepId}`, `functions/steps/${stepId}.ts`, {
        memorySize: STEP_SIZING[stepId].memoryMiB,
        timeout: STEP_SIZING[stepId].timeout,
        environment: { STEP_ID: stepId, JOBS_TABLE: props.table.tableName },
      }, VPC_STEPS.includes(stepId) ? props.network : undefined);
      props.table.grantReadWriteData(fn);
      if (CONNECTING_STEPS.includes(stepId)) {
        fn.addToRolePolicy(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretsArn] }));
        props.credentialsKey.grantDecrypt(fn);
      }
      if (RELEASING_STEPS.includes(stepId)) {
        fn.addToRolePolicy(new PolicyStatement({ actions: ['secretsmanager:DescribeSecret', 'secretsmanager:DeleteSecret'], resources: [secretsArn] }));
      }
      steps[stepId] = fn;
    }
    this.steps = steps;

    this.api = this.nodeFunction('Api', 'functions/api.ts', {
      memorySize: 512,
      timeout: Duration.seconds(29),
      environment: { JOBS_TABLE: props.table.tableName, SECRET_NAME_PREFIX, CREDENTIALS_KMS_KEY_ID: props.credentialsKey.keyArn },
    }, props.network);
    props.table.grantReadWriteData(this.api);
    // The API saves credentials (create, or overwrite on a retried save) and forgets them; it never reads them back.
    this.api.addToRolePolicy(
      new PolicyStatement({
        actions: [
          'secretsmanager:CreateSecret',
          'secretsmanager:DeleteSecret',
          'secretsmanager:TagResource',
          'secretsmanager:DescribeSecret',
          'secretsmanager:PutSecretValue',
        ],
        resources: [secretsArn],
      }),
    );
    // What Secrets Manager asks KMS for on the caller's behalf when it encrypts a new secret value.
    props.credentialsKey.grant(this.api, 'kms:GenerateDataKey', 'kms:Decrypt');
  }

  private nodeFunction(
    id: string,
    entry: string,
    props: Partial<NodejsFunctionProps> & { environment: Record<string, string> },
    network?: MigrationNetwork,
  ): NodejsFunction {
    const logGroup = new LogGroup(this, `${id}Logs`, { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    // An own role writing only to the function's own log group, instead of AWSLambdaBasicExecutionRole (logs:* on every group).
    const role = new Role(this, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    // A custom role gets no AWSLambdaVPCAccessExecutionRole from CDK: grant the ENI actions here.
    if (network) network.grantNetworkInterfaces(role);
    const common: NodejsFunctionProps = {
      ...props,
      ...(network ? network.placement : {}),
      runtime: Runtime.NODEJS_22_X,
      tracing: Tracing.ACTIVE,
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      logGroup,
      role,
    };
    const absoluteEntry = entryPath(entry);
    if (!Stack.of(this).bundlingRequired) {
      // Bundling is skipped (context aws:cdk:bundling-stacks = []): tests and the local runtime only
      // read the template, never the code. An inline stub keeps that synth free of file system work
      // and independent of whether the handler file exists yet; the real synth bundles the entry.
      if (!existsSync(absoluteEntry)) {
        Annotations.of(this).addWarningV2('milvus-migrate:missingEntry', `${entry} does not exist yet: a bundling synth will fail`);
      }
      return new NodejsFunction(this, id, {
        ...common,
        code: Code.fromInline(`// bundling skipped: ${entry}\nexport const handler = async () => { throw new Error('not bundled'); };`),
        handler: 'index.handler',
      });
    }
    return new NodejsFunction(this, id, {
      ...common,
      entry: absoluteEntry,
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: entryPath('package-lock.json'),
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // NODE_OPTIONS keeps --enable-source-maps, so stack traces name our files and lines. But Node
        // reads the whole map when the bundle loads and decodes every mapping at the first stack
        // trace (a step's first domain error): ~2.5 MB of mappings, 90% of them into node_modules,
        // cost 150-300 ms of a cold start (bench/coldStart.ts, --node-options '' to compare). The
        // map keeps only the mappings into our sources (~100 KB); a frame inside a dependency shows
        // its index.mjs position, as it would without a map. See infra/bundling/trimSourceMap.mjs.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => [`node "${TRIM_SOURCE_MAP}" "${outputDir}/index.mjs.map"`],
        },
        // The AWS SDK goes into the bundle, at the version package-lock.json pins and the tests run,
        // instead of the one the runtime happens to carry (README "Deploy to AWS").
        externalModules: [],
        esbuildArgs: Object.fromEntries(LEFT_OUT_PACKAGES.map((name) => [`--alias:${name}`, LEFT_OUT_STUB])),
        // CommonJS dependencies bundled into ESM call require() and may read __dirname (grpc-js); give them both.
        banner: [
          "import { createRequire as __bannerCreateRequire } from 'node:module';",
          "import { fileURLToPath as __bannerFileURLToPath } from 'node:url';",
          "import { dirname as __bannerDirname } from 'node:path';",
          'const require = __bannerCreateRequire(import.meta.url);',
          'const __filename = __bannerFileURLToPath(import.meta.url);',
          'const __dirname = __bannerDirname(__filename);',
        ].join(' '),
      },
    });
  }
}
