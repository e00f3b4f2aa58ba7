import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Caller, LocalAccount } from './account';
import { AwsError } from './awsErrors';

/**
 * Checks a request's SigV4 signature as AWS does: the access key must be one of the account's,
 * and the signature recomputed with that key's secret over the same signed headers, date and
 * body must be the one sent, its session token the key's, and its date within 15 minutes of now.
 * Only the Authorization header form is read (not presigned query-string requests).
 */

const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

export interface SignedCall {
  caller: Caller;
  accessKeyId: string;
  region: string;
  service: string;
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

export async function verifySignature(
  account: LocalAccount,
  request: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer },
): Promise<SignedCall> {
  const authorization = request.headers.authorization;
  if (!authorization) throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token', 400);
  const parsed = AUTHORIZATION.exec(authorization.trim());
  if (!parsed) throw new AwsError('IncompleteSignatureException', `Authorization header requires Credential, SignedHeaders and Signature parameters.`, 400);
  const [, accessKeyId = '', , region = '', service = '', signedHeaderList = '', signature = ''] = parsed;

  const caller = account.callerOf(accessKeyId);
  const credentials = caller && (caller.kind === 'root' ? account.rootCredentials : caller.function.credentials);
  if (!caller || !credentials) throw new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.', 400);
  // The function keys are temporary credentials (ASIA...): as on AWS, they are valid only with their session token.
  const token = request.headers['x-amz-security-token'];
  if (token !== credentials.sessionToken) throw new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.', 400);

  const amzDate = String(request.headers['x-amz-date'] ?? '');
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate) throw new AwsError('IncompleteSignatureException', 'Date must be in ISO-8601 basic format (x-amz-date).', 400);
  if (Math.abs(Date.now() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw new AwsError('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier or later than 15 minutes from the server's time.`, 400);
  }

  const signedHeaders = signedHeaderList.split(';');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = request.headers[name];
    if (value === undefined) throw new AwsError('InvalidSignatureException', `The request signature we calculated does not match the signature you provided: signed header ${name} is missing.`, 400);
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const declaredHash = headers['x-amz-content-sha256'];
  if (declaredHash && declaredHash !== createHash('sha256').update(request.body).digest('hex')) {
    throw new AwsError('InvalidSignatureException', 'The provided x-amz-content-sha256 header does not match the computed payload hash.', 400);
  }
  const url = new URL(request.url, 'http://local');
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const existing = query[key];
    query[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const signer = new SignatureV4({
    service,
    region,
    sha256: Sha256,
    applyChecksum: false,
    credentials: { accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken },
  });
  const [host, port] = (headers.host ?? '').split(':');
  const signed = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: host ?? '', port: port ? Number(port) : undefined, path: url.pathname, query, headers, body: request.body },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? '';
  if (expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    throw new AwsError(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      400,
    );
  }
  return { caller, accessKeyId, region, service };
}

function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}
