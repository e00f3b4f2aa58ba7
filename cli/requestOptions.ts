import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { isPemCertificates, MAX_CA_CERT_BYTES } from '../lib/cluster';

/** The flags that describe a migration request, shared by `run` and `create`. */
export function addRequestOptions(command: Command): Command {
  return command
    .option('--request <file>', 'JSON body of POST /migrations (the other request flags are then ignored)')
    .addOption(new Option('--type <type>', 'migration type').choices(['offline', 'online']).default('offline'))
    .option('--source-uri <uri>', 'source cluster, host:port or http(s)://host[:port]')
    .option('--source-token <token>', 'source API key or user:password token (or env MILVUS_SOURCE_TOKEN)')
    .option('--source-username <name>', 'source user (with --source-password or env MILVUS_SOURCE_PASSWORD)')
    .option('--source-password <password>', 'source password')
    .option('--source-ca-cert <file>', 'PEM file of the CA that signed the source\'s TLS certificate (a private CA; default: the system roots)')
    .option('--target-uri <uri>', 'target cluster, host:port or http(s)://host[:port]')
    .option('--target-token <token>', 'target API key or user:password token (or env MILVUS_TARGET_TOKEN)')
    .option('--target-username <name>', 'target user (with --target-password or env MILVUS_TARGET_PASSWORD)')
    .option('--target-password <password>', 'target password')
    .option('--target-ca-cert <file>', 'PEM file of the CA that signed the target\'s TLS certificate (a private CA; default: the system roots)')
    .option('--database <name>', 'source database to migrate', 'default')
    .option('--target-database <name>', 'database on the target (default: same name)')
    .option('--collection <name[:targetName]>', 'a collection to migrate, optionally renamed; repeat for more (default: all)', collect)
    .addOption(new Option('--index-policy <policy>', 'vector indexes on the target').choices(['autoindex', 'preserve']))
    .addOption(new Option('--sync-strategy <strategy>', 'online: compare snapshots (no proxy), or apply what `milvus-migrate capture` logged').choices(['snapshot-diff', 'capture']))
    .option('--switchover', 'online, capture: after SUCCESSFUL the capture endpoint forwards every call to the target')
    .option('--comparison-interval <seconds>', 'online, capture: seconds between two comparisons of every row during the sync, which find writes that bypassed the endpoint (default 21600)', Number);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export interface RequestFlags {
  request?: string;
  type: string;
  sourceUri?: string;
  sourceToken?: string;
  sourceUsername?: string;
  sourcePassword?: string;
  targetUri?: string;
  targetToken?: string;
  targetUsername?: string;
  targetPassword?: string;
  sourceCaCert?: string;
  targetCaCert?: string;
  database: string;
  targetDatabase?: string;
  collection?: string[];
  indexPolicy?: string;
  syncStrategy?: string;
  switchover?: boolean;
  comparisonInterval?: number;
}

/**
 * Builds the POST /migrations body. It is validated by the same zod schema as the API, so a bad
 * flag gets the same message as a bad request.
 */
export function requestBodyFromFlags(flags: RequestFlags, env: NodeJS.ProcessEnv = process.env): unknown {
  if (flags.request) return JSON.parse(readFileSync(flags.request, 'utf8'));
  const cluster = (role: 'source' | 'target', uri?: string, token?: string, username?: string, password?: string, caCertFile?: string) => {
    const upper = role.toUpperCase();
    const resolvedToken = token ?? env[`MILVUS_${upper}_TOKEN`];
    const resolvedPassword = password ?? env[`MILVUS_${upper}_PASSWORD`];
    return {
      uri: uri ?? '',
      ...(resolvedToken ? { token: resolvedToken } : {}),
      ...(username ? { username, password: resolvedPassword } : {}),
      ...(caCertFile ? { tls: { caCert: readCaCert(`--${role}-ca-cert`, caCertFile) } } : {}),
    };
  };
  const collections = flags.collection?.map((spec) => {
    const [name, targetName] = spec.split(':');
    return targetName ? { name, targetName } : { name };
  });
  return {
    type: flags.type,
    source: cluster('source', flags.sourceUri, flags.sourceToken, flags.sourceUsername, flags.sourcePassword, flags.sourceCaCert),
    target: cluster('target', flags.targetUri, flags.targetToken, flags.targetUsername, flags.targetPassword, flags.targetCaCert),
    databases: [
      {
        name: flags.database,
        ...(flags.targetDatabase ? { targetName: flags.targetDatabase } : {}),
        ...(collections ? { collections } : {}),
      },
    ],
    ...(flags.indexPolicy || flags.syncStrategy || flags.switchover || flags.comparisonInterval !== undefined
      ? {
          options: {
            ...(flags.indexPolicy ? { indexPolicy: flags.indexPolicy } : {}),
            ...(flags.syncStrategy ? { syncStrategy: flags.syncStrategy } : {}),
            ...(flags.switchover ? { switchover: true } : {}),
            ...(flags.comparisonInterval !== undefined ? { comparisonIntervalSeconds: flags.comparisonInterval } : {}),
          },
        }
      : {}),
  };
}

/** A CA certificate file's PEM text; a file that cannot be read or holds no certificate is a usage error naming the flag. */
export function readCaCert(flag: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`${flag} ${file}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
  if (text.length > MAX_CA_CERT_BYTES) throw new Error(`${flag} ${file}: ${text.length} bytes; a CA certificate file may hold at most ${MAX_CA_CERT_BYTES / 1024} KiB`);
  if (!isPemCertificates(text)) {
    throw new Error(`${flag} ${file}: not a PEM certificate (expected -----BEGIN CERTIFICATE----- blocks, such as the ca.pem your cluster's operator gives)`);
  }
  return text;
}
