import { createHash, createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { apiClientFrom } from '../../cli/apiOptions';
import { createSigner, executeApiRegion, signingRegion } from '../../cli/sigv4';

// The AWS SigV4 test suite's credentials and time (docs.aws.amazon.com, "Signature Version 4 test suite").
const EXAMPLE = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const AT = new Date('2015-08-30T12:36:00Z');
const fixed = (extra: { sessionToken?: string } = {}) => async () => ({ ...EXAMPLE, ...extra });

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();

/**
 * SigV4 computed from the specification with node:crypto alone, to check the signer against:
 * canonical request (method, path, sorted query, signed headers, SHA-256 of the body), string to
 * sign, signing key derived from the date, region and service.
 */
function expectedSignature(input: { method: string; url: URL; headers: Record<string, string>; body?: string; region: string; service: string; secret: string }) {
  const signed = Object.keys(input.headers).map((h) => h.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k.toLowerCase(), v.trim()]));
  const query = [...input.url.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const canonical = [input.method, input.url.pathname, query, ...signed.map((h) => `${h}:${lower[h]}`), '', signed.join(';'), sha256(input.body ?? '')].join('\n');
  const amzDate = lower['x-amz-date'];
  const scope = `${amzDate.slice(0, 8)}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = ['aws4_request'].reduce(
    (k, part) => hmac(k, part),
    hmac(hmac(hmac(`AWS4${input.secret}`, amzDate.slice(0, 8)), input.region), input.service),
  );
  return { signature: createHmac('sha256', key).update(stringToSign).digest('hex'), signedHeaders: signed.join(';'), scope };
}

describe('SigV4 signing of API requests', () => {
  it('matches the AWS test suite vectors get-vanilla and post-vanilla', async () => {
    const sign = createSigner({ region: 'us-east-1', service: 'service', credentials: fixed(), now: () => AT });
    const get = await sign({ method: 'GET', url: new URL('https://example.amazonaws.com/'), headers: {} });
    expect(get.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
    expect(get['x-amz-date']).toBe('20150830T123600Z');
    const post = await sign({ method: 'POST', url: new URL('https://example.amazonaws.com/'), headers: {} });
    expect(post.authorization).toMatch(/Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b$/);
  });

  it('signs for execute-api with the credential scope, the signed headers and a body hash that covers the body', async () => {
    const sign = createSigner({ region: 'eu-central-1', credentials: fixed(), now: () => AT });
    const url = new URL('https://abc123defg.execute-api.eu-central-1.amazonaws.com/prod/migrations');
    const body = JSON.stringify({ type: 'offline', source: { uri: 'a:19530' }, target: { uri: 'b:19530' } });
    const headers = await sign({ method: 'POST', url, headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' }, body });
    expect(headers.host).toBeUndefined(); // fetch sends it from the URL
    expect(headers['content-type']).toBe('application/json');
    const expected = expectedSignature({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1', host: url.host, 'x-amz-date': '20150830T123600Z' },
      body,
      region: 'eu-central-1',
      service: 'execute-api',
      secret: EXAMPLE.secretAccessKey,
    });
    expect(expected.scope).toBe('20150830/eu-central-1/execute-api/aws4_request');
    expect(headers.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${expected.scope}, SignedHeaders=content-type;host;idempotency-key;x-amz-date, Signature=${expected.signature}`,
    );
    // One byte more in the body is another signature: the body is signed, not only the headers.
    const tampered = await sign({ method: 'POST', url, headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' }, body: `${body} ` });
    expect(tampered.authorization).not.toBe(headers.authorization);
    expect(tampered.authorization.split('Signature=')[0]).toBe(headers.authorization.split('Signature=')[0]);
  });

  it('signs the query and sends the session token of temporary credentials', async () => {
    const sign = createSigner({ region: 'us-west-2', credentials: fixed({ sessionToken: 'FQoGZXIvYXdzEXAMPLE' }), now: () => AT });
    const url = new URL('https://abc123defg.execute-api.us-west-2.amazonaws.com/prod/migrations/mig-1/events?limit=100&nextToken=eyJh%2Bb%2F%3D');
    const headers = await sign({ method: 'GET', url, headers: { accept: 'application/json' } });
    expect(headers['x-amz-security-token']).toBe('FQoGZXIvYXdzEXAMPLE');
    const expected = expectedSignature({
      method: 'GET',
      url,
      headers: { accept: 'application/json', host: url.host, 'x-amz-date': '20150830T123600Z', 'x-amz-security-token': 'FQoGZXIvYXdzEXAMPLE' },
      region: 'us-west-2',
      service: 'execute-api',
      secret: EXAMPLE.secretAccessKey,
    });
    expect(headers.authorization).toContain(`SignedHeaders=${expected.signedHeaders}, Signature=${expected.signature}`);
    expect(expected.signedHeaders).toBe('accept;host;x-amz-date;x-amz-security-token');
  });
});

describe('which requests are signed', () => {
  it('reads the region of an API Gateway host, and nothing from other hosts', () => {
    expect(executeApiRegion(new URL('https://a1b2c3.execute-api.eu-central-1.amazonaws.com/prod'))).toBe('eu-central-1');
    expect(executeApiRegion(new URL('https://a1b2c3-vpce-0123.execute-api.us-gov-west-1.vpce.amazonaws.com/prod'))).toBe('us-gov-west-1');
    expect(executeApiRegion(new URL('https://a1b2c3.execute-api.cn-north-1.amazonaws.com.cn/prod'))).toBe('cn-north-1');
    expect(executeApiRegion(new URL('http://127.0.0.1:8080'))).toBeUndefined();
    expect(executeApiRegion(new URL('https://execute-api.eu-central-1.amazonaws.com.evil.example/prod'))).toBeUndefined();
  });

  it('signs API Gateway URLs unless --no-sign, local ones only with --sign, in the region of --region, the host or AWS_REGION', () => {
    const gateway = 'https://a1b2c3.execute-api.eu-central-1.amazonaws.com/prod';
    const env = { AWS_REGION: 'us-east-1' };
    expect(signingRegion(gateway, {}, env)).toBe('eu-central-1');
    expect(signingRegion(gateway, { region: 'eu-west-3' }, env)).toBe('eu-west-3');
    expect(signingRegion(gateway, { sign: false }, env)).toBeUndefined();
    expect(signingRegion('http://127.0.0.1:8080', {}, env)).toBeUndefined();
    expect(signingRegion('http://127.0.0.1:8080', { sign: true }, env)).toBe('us-east-1');
    expect(signingRegion('https://migrate.example.com/v1', { sign: true }, { AWS_DEFAULT_REGION: 'ap-south-1' })).toBe('ap-south-1');
    expect(() => signingRegion('https://migrate.example.com/v1', { sign: true }, {})).toThrow(/pass --region or set AWS_REGION/);
  });
});

describe('the API client signs what it sends', () => {
  const sent: Array<{ url: string; headers: Record<string, string>; body?: string; method: string }> = [];
  const recorder = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    sent.push({ url: String(input), method: init?.method ?? 'GET', headers: init?.headers as Record<string, string>, body: init?.body as string | undefined });
    return new Response(JSON.stringify({ jobId: 'mig-1', status: 'CUTTING_OVER' }), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  afterEach(() => {
    sent.length = 0;
  });

  it('signs every request to an API Gateway URL over the exact path, query and body it sends', async () => {
    const client = apiClientFrom({ api: 'https://a1b2c3.execute-api.eu-central-1.amazonaws.com/prod/' }, { credentials: fixed(), fetch: recorder });
    await client.stopSync('mig-1');
    await client.events('mig-1', { limit: 5, nextToken: 'a+b/c=' });
    expect(sent).toHaveLength(2);
    const [stop, events] = sent;
    expect(stop.url).toBe('https://a1b2c3.execute-api.eu-central-1.amazonaws.com/prod/migrations/mig-1/stop-sync');
    expect(stop.body).toBe('{"confirmWritesStopped":true}');
    expect(events.url).toBe('https://a1b2c3.execute-api.eu-central-1.amazonaws.com/prod/migrations/mig-1/events?limit=5&nextToken=a%2Bb%2Fc%3D');
    for (const request of sent) {
      const url = new URL(request.url);
      const { authorization, ...rest } = request.headers;
      expect(authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-central-1\/execute-api\/aws4_request, /);
      const expected = expectedSignature({ method: request.method, url, headers: { ...rest, host: url.host }, body: request.body, region: 'eu-central-1', service: 'execute-api', secret: EXAMPLE.secretAccessKey });
      expect(authorization).toBe(`AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${expected.scope}, SignedHeaders=${expected.signedHeaders}, Signature=${expected.signature}`);
    }
    expect(stop.headers.authorization).toContain('SignedHeaders=accept;content-type;host;x-amz-date,');
  });

  it('sends local requests unsigned, and signs them with --sign', async () => {
    await apiClientFrom({ api: 'http://127.0.0.1:8080' }, { credentials: fixed(), fetch: recorder }).get('mig-1');
    expect(sent[0].headers.authorization).toBeUndefined();
    expect(sent[0].headers['x-amz-date']).toBeUndefined();
    await apiClientFrom({ api: 'http://127.0.0.1:8080', sign: true, region: 'eu-west-1' }, { credentials: fixed(), fetch: recorder }).get('mig-1');
    expect(sent[1].headers.authorization).toContain('/eu-west-1/execute-api/aws4_request');
  });

  it('takes credentials from the standard AWS chain (here the environment)', async () => {
    const set = { AWS_ACCESS_KEY_ID: 'AKIDFROMENVIRONMENT', AWS_SECRET_ACCESS_KEY: 'secret-from-environment', AWS_SESSION_TOKEN: 'token-from-environment', AWS_PROFILE: undefined };
    const saved = Object.fromEntries(Object.keys(set).map((key) => [key, process.env[key]]));
    const apply = (values: Record<string, string | undefined>) => {
      for (const [key, value] of Object.entries(values)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    };
    try {
      apply(set);
      await apiClientFrom({ api: 'https://a1b2c3.execute-api.sa-east-1.amazonaws.com/prod' }, { fetch: recorder }).get('mig-1');
    } finally {
      apply(saved);
    }
    expect(sent[0].headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFROMENVIRONMENT\/\d{8}\/sa-east-1\/execute-api\/aws4_request/);
    expect(sent[0].headers['x-amz-security-token']).toBe('token-from-environment');
  });
});

describe('signing from the command line', () => {
  it('says in one line that there are no AWS credentials, exit code 2, without sending anything', async () => {
    const bin = path.resolve('bin/milvus-migrate.mjs');
    // No credentials anywhere in the chain: none in the environment, no files, no instance metadata.
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
    Object.assign(env, { AWS_CONFIG_FILE: '/nonexistent/config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials', AWS_EC2_METADATA_DISABLED: 'true' });
    const outcome = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      // .invalid never resolves: had the request been sent, the error would say it cannot be reached.
      const child = spawn(process.execPath, [bin, 'status', 'mig-1', '--api', 'https://a1b2c3.execute-api.eu-central-1.amazonaws.com.invalid/prod', '--sign', '--region', 'eu-central-1', '--json'], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(outcome.code).toBe(2);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr.trim().split('\n')).toHaveLength(1);
    expect(outcome.stderr).toMatch(/^milvus-migrate: no AWS credentials to sign the request with \(.+\); set AWS_PROFILE/);
  });
});
