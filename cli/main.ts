import { Command } from 'commander';
import { cancelCommand, createCommand, eventsCommand, listCommand, statusCommand } from './commands/remote';
import { addRequestOptions } from './requestOptions';

// Step logs are for CloudWatch; on a terminal the progress lines say what happens.
process.env.MILVUS_MIGRATE_STEP_LOG ??= 'off';
// The AWS SDK warns on every start that its 2027 releases will need Node 22; the lockfile pins
// the release we test, and the Lambdas run Node 22. Errors stay one line.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const program = new Command()
  .name('milvus-migrate')
  .description('Migrate Milvus collections between clusters: locally on this machine, or through the deployed API.')
  .showHelpAfterError();

/** Runs a command and turns its outcome into an exit code; errors are one clear line. */
function action<A extends unknown[]>(run: (...args: A) => Promise<number>) {
  return async (...args: A) => {
    try {
      process.exitCode = await run(...args);
    } catch (error) {
      process.stderr.write(`milvus-migrate: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 2;
    }
  };
}

const DEFAULT_API = process.env.MILVUS_MIGRATE_API ?? 'http://127.0.0.1:8080';

addRequestOptions(program.command('run').description('run one migration locally (DynamoDB Local, state machine in process) and wait for it'))
  .option('--json', 'print only the final job as JSON on stdout')
  .action(action(async (flags) => (await import('./commands/run')).runCommand(flags)));

program
  .command('serve')
  .description('serve the migration API on this machine')
  .option('--port <port>', 'port', '8080')
  .option('--host <host>', 'address to bind', '127.0.0.1')
  .action(action(async (flags) => (await import('./commands/serve')).serveCommand(flags)));

program
  .command('demo')
  .description('start two milvus-lite clusters, seed sample data, migrate it offline and verify')
  .option('--json', 'print only the final job as JSON on stdout')
  .action(action(async (flags) => (await import('./commands/demo')).demoCommand(flags)));

addRequestOptions(program.command('create').description('create a migration through the API'))
  .option('--api <url>', 'API base URL', DEFAULT_API)
  .option('--json', 'print JSON')
  .action(action(createCommand));

addRequestOptions(program.command('preflight').description('check a migration without writing anything: reachability, collections, rows, bytes, problems, duration and AWS cost'))
  .option('--api <url>', 'ask this API (serve, or the deployed one) instead of checking from this machine')
  .option('--json', 'print the report as JSON')
  .action(action(async (flags) => (await import('./commands/preflight')).preflightCommand(flags)));

program.command('list').description('list migrations').option('--api <url>', 'API base URL', DEFAULT_API).option('--json', 'print JSON').action(action(listCommand));

for (const [name, description, run] of [
  ['status', 'show a migration', statusCommand],
  ['events', "show a migration's event log", eventsCommand],
  ['cancel', 'cancel a migration', cancelCommand],
] as const) {
  program
    .command(name)
    .description(description)
    .argument('<jobId>')
    .option('--api <url>', 'API base URL', DEFAULT_API)
    .option('--json', 'print JSON')
    .action(action(run));
}

await program.parseAsync(process.argv);
