import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMigrationRequestSchema } from '../../lib/api/openapi';
import { CreateMigrationBody, parseRequest } from '../../lib/api/requests';
import { hashRequest } from '../../lib/api/service';
import { MAX_CA_CERT_BYTES } from '../../lib/cluster';
import { MemoryCredentialStore } from '../../lib/credentials/memoryCredentialStore';
import { SecretsManagerCredentialStore } from '../../lib/credentials/secretsManagerCredentialStore';
import { call as milvusCall, read, setCallRetryPolicy } from '../../lib/milvus/gateway/calls';
import { statusToError, toMigrationError } from '../../lib/milvus/status';
import { reach } from '../../lib/migration/preflight';
import { readCaCert, requestBodyFromFlags, type RequestFlags } from '../../cli/requestOptions';
import { makeTestCertificates, type TestCertificates } from '../support/tlsProxy';
import { issuesOf } from '../api/support/requestIssues';

let certs: TestCertificates;
let dir: string;
beforeAll(() => {
  certs = makeTestCertificates();
  dir = mkdtempSync(path.join(tmpdir(), 'mm-tls-flags-'));
});
afterAll(() => {
  certs.remove();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => setCallRetryPolicy());

const target = { uri: 'target:19530' };

describe('source.tls / target.tls in a request', () => {
  it('takes a PEM CA (one or several certificates) and a server name, on an https:// or bare host:port uri', () => {
    const bundle = `${certs.caCert}\n${certs.serverCert}`;
    const parsed = parseRequest(
      CreateMigrationBody,
      { type: 'offline', source: { uri: 'https://in01.example.com:19530', token: 'k', tls: { caCert: certs.caCert, serverName: 'in01.example.com' } }, target: { ...target, tls: { caCert: bundle } } },
      'body',
    );
    expect(parsed.source.tls).toEqual({ caCert: certs.caCert, serverName: 'in01.example.com' });
    expect(parsed.target.tls?.caCert).toBe(bundle);
  });

  it('refuses what is not PEM certificates, too much of it, an http:// uri, a secretArn beside it, and unknown fields, naming the field', () => {
    const withTls = (tls: unknown, uri = 'https://s:1', extra: object = {}) => issuesOf({ type: 'offline', source: { uri, tls, ...extra }, target });
    expect(withTls({ caCert: 'hello' })).toEqual([expect.stringMatching(/^source\.tls\.caCert: caCert must be PEM text of one or more certificates/)]);
    // A private key is PEM, not a certificate.
    expect(withTls({ caCert: certs.serverKey })[0]).toMatch(/^source\.tls\.caCert: caCert must be PEM/);
    // PEM armour around bytes that are no certificate.
    expect(withTls({ caCert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' })[0]).toMatch(/^source\.tls\.caCert: /);
    expect(withTls({ caCert: `${certs.caCert}trailing words` })[0]).toMatch(/^source\.tls\.caCert: /);
    expect(withTls({ caCert: certs.caCert.repeat(Math.ceil(MAX_CA_CERT_BYTES / certs.caCert.length) + 1) })[0]).toMatch(/^source\.tls\.caCert: caCert must be at most 48 KiB/);
    expect(withTls({ caCert: certs.caCert }, 'http://s:1')).toEqual(['source.tls: tls needs a TLS uri: https://host[:port] (http:// means no TLS)']);
    expect(withTls({ caCert: certs.caCert }, 's:1', { secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:s' })[0]).toMatch(/^source\.tls: with secretArn, put tls in the secret's JSON/);
    expect(withTls({ caCert: certs.caCert, clientKey: 'x' })).toEqual(['source.tls: unknown field clientKey']);
    expect(withTls({ serverName: 'not a host' })[0]).toMatch(/^source\.tls\.serverName: /);
  });

  it('is write-only in the OpenAPI document, and left out of the idempotency hash like the token', () => {
    const schema = createMigrationRequestSchema() as { properties: Record<string, { properties: Record<string, { writeOnly?: boolean; description?: string }> }> };
    for (const role of ['source', 'target']) {
      expect(schema.properties[role]!.properties.tls?.writeOnly).toBe(true);
      expect(schema.properties[role]!.properties.tls?.description).toMatch(/caCert/);
    }
    const body = (caCert?: string) => parseRequest(CreateMigrationBody, { type: 'offline', source: { uri: 'https://s:1', ...(caCert ? { tls: { caCert } } : {}) }, target }, 'body');
    expect(hashRequest(body(certs.caCert))).toBe(hashRequest(body()));
  });
});

describe('credential stores keep tls with the credentials', () => {
  const connection = () => ({ uri: 'https://s:19530', token: 'tok', tls: { caCert: certs.caCert, serverName: 's.example.com' } });

  it('in memory', async () => {
    const store = new MemoryCredentialStore();
    const ref = await store.save('mig-1', 'source', connection());
    expect(ref).not.toContain('CERTIFICATE');
    const resolved = await store.resolve(ref);
    expect(resolved).toEqual(connection());
    // A copy: what a step does with it does not change what the store holds.
    resolved.tls!.caCert = 'changed';
    expect((await store.resolve(ref)).tls?.caCert).toBe(certs.caCert);
  });

  it('in the Secrets Manager secret JSON, read back by the steps', async () => {
    const sm = mockClient(SecretsManagerClient);
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:milvus-migrate/mig-1/source-AbCdEf';
    sm.on(CreateSecretCommand).resolves({ ARN: arn });
    const store = new SecretsManagerCredentialStore({ client: new SecretsManagerClient({ region: 'us-east-1' }) });
    expect(await store.save('mig-1', 'source', connection())).toBe(arn);
    const saved = sm.commandCalls(CreateSecretCommand)[0]!.args[0].input.SecretString!;
    expect(JSON.parse(saved)).toEqual(connection());
    sm.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: saved });
    expect(await store.resolve(arn)).toEqual(connection());
    // A user's own secret may carry the CA too; a bad one is refused naming the field.
    sm.on(GetSecretValueCommand, { SecretId: 'user' }).resolves({ SecretString: JSON.stringify({ uri: 'https://s:1', tls: { caCert: 'not pem' } }) });
    await expect(store.resolve('user')).rejects.toMatchObject({ code: 'CREDENTIALS_INVALID', message: expect.stringContaining('tls.caCert') });
    sm.restore();
  });
});

describe('a certificate the client refuses', () => {
  // What grpc-js threw, measured against the TLS proxy of test/support/tlsProxy.ts without the CA.
  const untrusted = Object.assign(new Error('14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate. Resolution note: '), {
    code: 14,
    details: 'No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ',
  });
  const altname = Object.assign(new Error('x'), {
    code: 14,
    details: "No connection established. Last error: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: Host: milvus.example.com. is not in the cert's altnames: IP Address:127.0.0.1. Resolution note: ",
  });

  it('is permanent with its own code, not the transient UNAVAILABLE grpc-js reports it as', () => {
    expect(toMigrationError(untrusted, 'list databases')).toMatchObject({ name: 'PermanentError', code: 'MILVUS_TLS_UNTRUSTED', message: expect.stringContaining('unable to verify the first certificate') });
    expect(toMigrationError(altname, 'list databases')).toMatchObject({ name: 'PermanentError', code: 'MILVUS_TLS_NAME_MISMATCH' });
    for (const text of ['self-signed certificate in certificate chain', 'unable to get local issuer certificate', 'self signed certificate']) {
      expect(toMigrationError({ code: 14, details: `No connection established. Last error: Error: ${text}` }, 'x').code).toBe('MILVUS_TLS_UNTRUSTED');
    }
    expect(toMigrationError({ code: 14, details: 'No connection established. Last error: Error: certificate has expired' }, 'x').code).toBe('MILVUS_TLS_CERTIFICATE');
    // Folded into a status by the SDK.
    expect(statusToError({ error_code: 'UnexpectedError', reason: '14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate' }, 'describe x').code).toBe('MILVUS_TLS_UNTRUSTED');
    // Other connection failures stay transient.
    expect(toMigrationError({ code: 14, details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1' }, 'x')).toMatchObject({ name: 'TransientError', code: 'MILVUS_UNAVAILABLE' });
  });

  it('is not retried, and preflight names the role, its request field and its CLI flag', async () => {
    const retries: string[] = [];
    setCallRetryPolicy({ sleep: async () => undefined, onRetry: (what) => void retries.push(what) });
    let calls = 0;
    const failing = () => milvusCall(read('list databases'), async () => {
      calls += 1;
      throw untrusted;
    });
    const error = await reach('TARGET_UNREACHABLE', 'target', failing).catch((e: Error) => e);
    expect(calls).toBe(1);
    expect(retries).toEqual([]);
    expect(error).toMatchObject({ name: 'PermanentError', code: 'MILVUS_TLS_UNTRUSTED' });
    expect((error as Error).message).toBe(
      "cannot reach the target cluster: the target's certificate is not trusted: give its CA with target.tls.caCert / --target-ca-cert (list databases: unable to verify the first certificate)",
    );
  });
});

describe('--source-ca-cert / --target-ca-cert', () => {
  const flags = (extra: Partial<RequestFlags>): RequestFlags => ({ type: 'offline', database: 'default', sourceUri: 'https://s:1', targetUri: 'https://t:1', ...extra });

  it('put the file\'s PEM text in source.tls.caCert / target.tls.caCert', () => {
    const body = requestBodyFromFlags(flags({ sourceCaCert: certs.caCertFile, targetCaCert: certs.caCertFile }), {}) as { source: { tls?: { caCert: string } }; target: { tls?: { caCert: string } } };
    expect(body.source.tls?.caCert).toBe(certs.caCert);
    expect(body.target.tls?.caCert).toBe(certs.caCert);
    expect((requestBodyFromFlags(flags({}), {}) as { source: object }).source).not.toHaveProperty('tls');
  });

  it('refuse a file that cannot be read or is not a PEM certificate, naming the flag and the file', () => {
    const key = path.join(dir, 'server.key');
    writeFileSync(key, certs.serverKey);
    expect(() => readCaCert('--source-ca-cert', path.join(dir, 'missing.pem'))).toThrow(`--source-ca-cert ${path.join(dir, 'missing.pem')}: cannot read the file (ENOENT)`);
    expect(() => readCaCert('--target-ca-cert', key)).toThrow(/^--target-ca-cert .*server\.key: not a PEM certificate/);
    expect(() => readCaCert('--target-ca-cert', dir)).toThrow(/cannot read the file \(EISDIR\)/);
  });
});
