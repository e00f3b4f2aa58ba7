import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { dynamoEndpointFromEnvironment, startDynamoLocal } from '../local/dynamoLocal';
import { addApiOptions } from './apiOptions';
import { cancelCommand, createCommand, eventsCommand, listCommand, resumeCommand, statusCommand, stopSyncCommand, USAGE_ERROR } from './commands/remote';
import type { RunFlags } from './commands/run';
import { cleanupOnSignal } from './interrupt';
import { addRequestOptions } from './requestOptions';

// Step logs are for CloudWatch; on a terminal the progress lines say what happens.
process.env.MILVUS_MIGRATE_STEP_LOG ??= 'off';
// The AWS SDK warns on every start that its 2027 releases will need Node 22; the lockfile pins
// the release we test, and the Lambdas run Node 22. Errors stay one line.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Exit codes: 0 done (the job SUCCESSFUL), 1 the job FAILED or CANCELLED (or preflight found problems), 2 the command itself failed. */
const COMMAND_FAILED = 2;

const program = new Command()
  .name('milvus-migrate')
  .description('Migrate Milvus collections between clusters: locally on this machine, or through the deployed API.')
  // Usage errors are one line too, with where to look; settings set here pass to every subcommand.
  .configureOutput({ outputError: (text, write) => write(`milvus-migrate: ${text.replace(/^error: /, '').trim()} (see --help)\n`) })
  .exitOverride();

/** Runs a command and turns its outcome into an exit code; errors are one clear line. */
function action<A extends unknown[]>(run: (...args: A) => Promise<number>) {
  return async (...args: A) => {
    try {
      process.exitCode = await run(...args);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`milvus-migrate: ${message.replace(/\s*\n\s*/g, ' ').trim()}\n`);
      process.exitCode = COMMAND_FAILED;
    }
  };
}

const seconds = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) throw new InvalidArgumentError('give a number of seconds from 0.1 to 3600');
  return n;
};
const positiveInteger = (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('give a whole number from 1');
  return Number(value);
};

addRequestOptions(program.command('run').description('run one migration locally (DynamoDB Local, state machine in process) and wait for it'))
  .option('--json', 'print only the final job as JSON on stdout')
  .option('--artifacts <dir>', 'run the Lambda assets of this `cdk synth --output` folder as Lambda runs them, instead of the handlers in process')
  .action(
    action(async (flags: RunFlags) => {
      // DynamoDB Local's JVM takes a second or more to answer, and the modules of the local runtime
      // about as long to load: it starts first, so both run side by side (on two cores) instead of
      // one after the other. The run command owns it from then on (stops it with the runtime).
      const dynamo = flags.artifacts || dynamoEndpointFromEnvironment() ? undefined : startDynamoLocal();
      dynamo?.catch(() => {}); // A failed start is reported where the runtime awaits it.
      const release = dynamo ? cleanupOnSignal(async () => (await dynamo).stop()) : () => {};
      const run = await import('./commands/run')
        .catch(async (error: unknown) => {
          await dynamo?.then((started) => started.stop(), () => {});
          throw error;
        })
        .finally(release);
      return run.runCommand(flags, dynamo);
    }),
  );

program
  .command('serve')
  .description('serve the migration API on this machine')
  .option('--port <port>', 'port', '8080')
  .option('--host <host>', 'address to bind', '127.0.0.1')
  .option('--artifacts <dir>', 'answer through the API function asset of this `cdk synth --output` folder, steps run as Lambda runs them')
  .action(action(async (flags) => (await import('./commands/serve')).serveCommand(flags)));

program
  .command('demo')
  .description('start two milvus-lite clusters, seed sample data, migrate it offline and verify (--online: zero-downtime, with an application writing all along)')
  .option('--online', 'an online migration: sync under a live writer, lag alert, stop-sync, cutover, verification')
  .option('--json', 'print only the final job as JSON on stdout')
  .action(action(async (flags) => (await import('./commands/demo')).demoCommand(flags)));

addApiOptions(addRequestOptions(program.command('create').description('create a migration through the API')))
  .option('--idempotency-key <key>', 'create one job however often this is sent with the same key (a retry returns the same job)')
  .option('--json', 'print the created job as JSON')
  .action(action(createCommand));

addApiOptions(
  addRequestOptions(
    program
      .command('preflight')
      .description('check a migration without writing anything: reachability, collections, rows, bytes, problems, duration and AWS cost'),
  ),
  { optionalApi: true },
)
  .option('--json', 'print the report as JSON')
  .addHelpText('after', '\nWithout --api the checks run from this machine.')
  .action(action(async (flags) => (await import('./commands/preflight')).preflightCommand(flags)));

addApiOptions(program.command('list').description('list migrations, newest first'))
  .option('--limit <n>', 'at most this many jobs (1 to 100)', positiveInteger)
  .option('--next-token <token>', 'the next page (printed after a full page)')
  .option('--json', 'print the page as JSON')
  .action(action(listCommand));

for (const [name, description, run] of [
  ['status', 'show a migration: status, phase, progress per collection, sync lag, verification, error', statusCommand],
  ['events', "show a migration's event log, oldest first", eventsCommand],
  ['cancel', 'cancel a migration that has not ended', cancelCommand],
] as const) {
  addApiOptions(program.command(name).description(description).argument('<jobId>'))
    .option('--json', 'print JSON')
    .action(action(run));
}

addApiOptions(
  program
    .command('stop-sync')
    .description('online migration: confirm that writes to the source stopped, so the job drains the last changes, cuts over and verifies')
    .argument('<jobId>'),
)
  .option('--confirm-writes-stopped', 'confirm that every writer to the source has stopped (required)')
  .option('--json', 'print the updated job as JSON')
  .action(action(stopSyncCommand));

addApiOptions(
  program
    .command('capture')
    .description('online migration with --sync-strategy capture: serve the Milvus gRPC protocol for the applications, forward every call to the source and log the keys of every write')
    .argument('<jobId>'),
)
  .requiredOption('--listen <host:port>', 'address to serve on, e.g. 0.0.0.0:19530')
  .addOption(new Option('--table <name>', 'the job table in DynamoDB').default('milvus-migrate-jobs').env('MILVUS_MIGRATE_TABLE'))
  .addOption(new Option('--dynamodb-endpoint <url>', 'DynamoDB endpoint (DynamoDB Local); default: the AWS one').env('MILVUS_MIGRATE_DYNAMODB_ENDPOINT'))
  .option('--source-ca-cert <file>', "PEM file of the CA that signed the source's TLS certificate (default: the system roots)")
  .option('--source-server-name <name>', "name to check the source's certificate against")
  .option('--target-token <token>', 'switchover: the token calls to the target carry (or env MILVUS_TARGET_TOKEN)')
  .option('--target-ca-cert <file>', "switchover: PEM file of the CA that signed the target's TLS certificate")
  .option('--target-server-name <name>', "switchover: name to check the target's certificate against")
  .addHelpText('after', '\nPrints one line naming the address once it accepts connections; serves until interrupted.')
  .action(action(async (jobId: string, flags) => (await import('./commands/capture')).captureCommand(jobId, flags)));

addApiOptions(
  program
    .command('resume')
    .description('continue a FAILED migration from its checkpoints: copied shards are kept, a partly copied shard continues where it stopped')
    .argument('<jobId>'),
)
  .option('--source-token <token>', 'the source token again (or env MILVUS_SOURCE_TOKEN): a job forgets its credentials when it fails')
  .option('--target-token <token>', 'the target token again (or env MILVUS_TARGET_TOKEN)')
  .option('--json', 'print the resumed job as JSON')
  .action(action((jobId: string, flags) => resumeCommand(jobId, flags)));

addApiOptions(
  program
    .command('watch')
    .description('follow a migration live until it ends: progress per collection, rows/s, time left, sync lag and its history, new events')
    .argument('<jobId>'),
)
  .option('--interval <seconds>', 'seconds between polls', seconds, 2)
  .option('--json', 'print one JSON object per poll (NDJSON): {at, job, collections (the first page), rowsPerSecond, etaSeconds, syncLagSeconds, lagHistory, events}')
  .option('--plain', 'plain lines even on a terminal (the default when stdout is not one)')
  .addHelpText('after', '\nExit code 0 when the job ends SUCCESSFUL, 1 when it ends FAILED or CANCELLED (the reason goes to stderr).')
  .action(action(async (jobId: string, flags) => (await import('./commands/watch')).watchCommand(jobId, flags)));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  // Help and version exit 0; a usage error has been printed on one line.
  process.exitCode = error.exitCode === 0 ? 0 : USAGE_ERROR;
}
