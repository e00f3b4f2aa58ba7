import { type Command, Option } from 'commander';
import { ApiClient } from './apiClient';
import { createSigner, signingRegion, type CredentialProvider } from './sigv4';

/** `serve`'s address; MILVUS_MIGRATE_API overrides it. */
const DEFAULT_API = 'http://127.0.0.1:8080';

export interface ApiFlags {
  api?: string;
  /** true: --sign, false: --no-sign, undefined: sign API Gateway URLs only. */
  sign?: boolean;
  region?: string;
}

/**
 * The flags of every command that talks to the API: where it is and how requests are signed.
 * `{ optionalApi: true }` leaves --api without a default (preflight then checks from this machine).
 */
export function addApiOptions(command: Command, options: { optionalApi?: boolean } = {}): Command {
  const api = new Option('--api <url>', 'API base URL: `serve` (http://127.0.0.1:8080) or the deployed API (https://<id>.execute-api.<region>.amazonaws.com/<stage>)');
  return command
    .addOption(options.optionalApi ? api : api.default(DEFAULT_API).env('MILVUS_MIGRATE_API'))
    .option('--sign', 'sign requests with SigV4 (default for *.execute-api.*.amazonaws.com URLs), credentials from the standard AWS chain')
    .option('--no-sign', 'never sign requests')
    .option('--region <region>', 'AWS region to sign for (default: the one in the API host, else AWS_REGION)');
}

/** The API client for these flags: requests to a deployed API Gateway are SigV4-signed. */
export function apiClientFrom(flags: ApiFlags, options: { credentials?: CredentialProvider; fetch?: typeof fetch } = {}): ApiClient {
  const api = flags.api ?? process.env.MILVUS_MIGRATE_API ?? DEFAULT_API;
  let region: string | undefined;
  try {
    region = signingRegion(api, { sign: flags.sign, region: flags.region });
  } catch (error) {
    if (error instanceof TypeError) throw new Error(`--api ${JSON.stringify(api)} is not a URL; give one such as http://127.0.0.1:8080`, { cause: error });
    throw error;
  }
  return new ApiClient(api, { fetch: options.fetch, ...(region ? { signer: createSigner({ region, credentials: options.credentials }) } : {}) });
}
