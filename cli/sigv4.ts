import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

/** AWS credentials as the standard chain resolves them. */
interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export type CredentialProvider = () => Promise<AwsCredentials>;

/** What is signed: the request exactly as it will be sent. */
interface SignableRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/** The request's headers with the SigV4 ones added (authorization, x-amz-date, x-amz-security-token). */
export type RequestSigner = (request: SignableRequest) => Promise<Record<string, string>>;

/** `https://<id>.execute-api.<region>.amazonaws.com/<stage>` (also the `.cn` partition and private API endpoints `...execute-api.<region>.vpce.amazonaws.com`). */
const EXECUTE_API_HOST = /\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$/;

/** The region of a deployed API Gateway URL, or undefined when the host is not one. */
export function executeApiRegion(url: URL): string | undefined {
  return EXECUTE_API_HOST.exec(url.hostname.toLowerCase())?.[1];
}

export interface SigningChoice {
  /** true (`--sign`), false (`--no-sign`), undefined: sign API Gateway URLs only. */
  sign?: boolean;
  /** `--region`. */
  region?: string;
}

/**
 * Whether to sign requests to this API and in which region: an API Gateway URL
 * (`*.execute-api.<region>.amazonaws.com`) is signed unless `--no-sign`; any other URL (such as
 * `serve` on 127.0.0.1) only with `--sign`. The region is `--region`, else the one in the host,
 * else AWS_REGION / AWS_DEFAULT_REGION.
 */
export function signingRegion(apiUrl: string, choice: SigningChoice, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = new URL(apiUrl);
  const fromHost = executeApiRegion(url);
  const sign = choice.sign ?? fromHost !== undefined;
  if (!sign) return undefined;
  const region = choice.region ?? fromHost ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new Error(`cannot tell the AWS region to sign requests to ${url.host} with: pass --region or set AWS_REGION`);
  return region;
}

export interface SignerOptions {
  region: string;
  /** Default: the standard AWS chain (environment, SSO, shared config and credentials files, web identity, ECS, EC2). */
  credentials?: CredentialProvider;
  /** execute-api for API Gateway. */
  service?: string;
  /** Fixed signing time, for tests. */
  now?: () => Date;
}

/** A SigV4 signer for API Gateway (service `execute-api`) through @smithy/signature-v4. */
export function createSigner(options: SignerOptions): RequestSigner {
  const credentials = options.credentials ?? standardCredentialChain();
  const signer = new SignatureV4({
    service: options.service ?? 'execute-api',
    region: options.region,
    credentials: withClearErrors(credentials),
    sha256: Sha256,
    // The payload's SHA-256 is in the canonical request either way; API Gateway needs no
    // x-amz-content-sha256 header (botocore and the AWS CLI send none for execute-api).
    applyChecksum: false,
  });
  return async ({ method, url, headers, body }) => {
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of url.searchParams) {
      const existing = query[key];
      query[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
    }
    const signed = await signer.sign(
      {
        method: method.toUpperCase(),
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        // The host header fetch will send: host[:port].
        headers: { ...headers, host: url.host },
        body,
      },
      { signingDate: options.now?.() ?? new Date() },
    );
    const out: Record<string, string> = {};
    // fetch sets host itself from the URL (the same value).
    for (const [name, value] of Object.entries(signed.headers)) if (name.toLowerCase() !== 'host') out[name] = String(value);
    return out;
  };
}

/** The standard AWS credential chain, loaded only when a request is signed (the module is large). */
function standardCredentialChain(): CredentialProvider {
  let provider: CredentialProvider | undefined;
  return async () => {
    if (!provider) {
      const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
      provider = defaultProvider();
    }
    return provider();
  };
}

/** A missing or refused credential becomes one line saying what to do. */
function withClearErrors(provider: CredentialProvider): CredentialProvider {
  return async () => {
    try {
      return await provider();
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new Error(
        `no AWS credentials to sign the request with (${reason}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass --no-sign for an unsigned API`,
        { cause: error },
      );
    }
  };
}
