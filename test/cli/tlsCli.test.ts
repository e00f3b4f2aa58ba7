import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { seedSampleCollections } from '../../local/sampleData';
import { dropCollectionsWithPrefix, expectSameRows } from '../support/rows';
import { makeTestCertificates, startTlsProxy, type TestCertificates, type TlsProxy } from '../support/tlsProxy';

/**
 * The CLI as a new user runs it against clusters served like Zilliz Cloud: https:// uris whose
 * certificates a private CA signed, and tokens. With --source-ca-cert / --target-ca-cert, preflight
 * and run work; without, preflight says which certificate is not trusted and which flag to give.
 */

const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const prefix = `clitls_${randomBytes(3).toString('hex')}_`;
const bin = path.resolve('bin/milvus-migrate.mjs');
// Every test runs CLI processes, each importing the service and starting a runtime: with the
// suite's other files running beside it on two cores, a minute is not always enough.
vi.setConfig({ testTimeout: 180_000 });
const sourceToken = `root:src-${randomBytes(4).toString('hex')}`;
const targetToken = `tgt-key-${randomBytes(4).toString('hex')}`;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcess>();
function cli(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    // The suite's DynamoDB Local for `run`, rather than a JVM started by the process (cli.test.ts has a run that starts its own).
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, MILVUS_MIGRATE_DYNAMODB_ENDPOINT: inject('dynamoEndpoint') }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

let sourceCa: TestCertificates;
let targetCa: TestCertificates;
let source: TlsProxy;
let target: TlsProxy;
let names: string[];

beforeAll(async () => {
  sourceCa = makeTestCertificates('cli source CA');
  targetCa = makeTestCertificates('cli target CA');
  [source, target] = await Promise.all([
    startTlsProxy({ upstream: sourceUri.replace(/^https?:\/\//, ''), certificates: sourceCa, token: sourceToken }),
    startTlsProxy({ upstream: targetUri.replace(/^https?:\/\//, ''), certificates: targetCa, token: targetToken }),
  ]);
  names = await seedSampleCollections(sourceUri, { prefix, sizes: { products: 80, articles: 60, clicks: 40 } });
});

/** Clean-up is bounded: once (in a full CI run) this hook outlived its 120 s, the tests themselves having passed. */
const within = (ms: number, work: Promise<unknown>) => Promise.race([work, new Promise((resolve) => setTimeout(resolve, ms).unref())]);

afterAll(async () => {
  await within(
    15_000,
    Promise.all(
      [...running].map(
        (child) =>
          new Promise((resolve) => {
            child.once('close', resolve);
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
          }),
      ),
    ),
  );
  await within(15_000, Promise.all([source?.stop(), target?.stop()]));
  sourceCa?.remove();
  targetCa?.remove();
  // Collections of a random prefix: left behind if the servers are too busy to drop them in time.
  await within(30_000, dropCollectionsWithPrefix(prefix, sourceUri, targetUri));
});

const clusters = (withSourceCa: boolean, withTargetCa: boolean) => [
  '--source-uri', source.uri, '--source-token', sourceToken, ...(withSourceCa ? ['--source-ca-cert', sourceCa.caCertFile] : []),
  '--target-uri', target.uri, '--target-token', targetToken, ...(withTargetCa ? ['--target-ca-cert', targetCa.caCertFile] : []),
];

describe('https clusters with a private CA and tokens, from the CLI', () => {
  it('preflight passes with --source-ca-cert and --target-ca-cert, and fails naming the certificate and the flag without them', async () => {
    const [articles] = [names[1]!];
    const passing = await cli(['preflight', ...clusters(true, true), '--collection', `${articles}:${articles}_pf`]);
    expect(passing.code, passing.stderr + passing.stdout).toBe(0);
    expect(passing.stdout).toContain(`source ${source.uri}: reachable`);
    expect(passing.stdout).toContain(`target ${target.uri}: reachable`);
    expect(passing.stdout).toContain('preflight passed');

    const noSourceCa = await cli(['preflight', ...clusters(false, true), '--collection', articles]);
    expect(noSourceCa.code).toBe(1);
    expect(noSourceCa.stdout).toContain(`source ${source.uri}: NOT reachable (MILVUS_TLS_UNTRUSTED: cannot reach the source cluster: the source's certificate is not trusted: give its CA with source.tls.caCert / --source-ca-cert`);
    expect(noSourceCa.stdout).toContain(`target ${target.uri}: reachable`);
    expect(noSourceCa.stdout).toContain('preflight found problems');

    const noTargetCa = await cli(['preflight', ...clusters(true, false), '--collection', articles]);
    expect(noTargetCa.code).toBe(1);
    expect(noTargetCa.stdout).toContain("the target's certificate is not trusted: give its CA with target.tls.caCert / --target-ca-cert");

    // A file that is not a certificate: exit 2 with one line naming the flag.
    const notPem = path.join(path.dirname(sourceCa.caCertFile), 'not.pem');
    writeFileSync(notPem, 'hello\n');
    const bad = await cli(['preflight', ...clusters(false, true), '--source-ca-cert', notPem]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(`milvus-migrate: --source-ca-cert ${notPem}: not a PEM certificate (expected -----BEGIN CERTIFICATE----- blocks, such as the ca.pem your cluster's operator gives)`);

    // What the users typed never comes back: not the tokens, not the CA.
    for (const out of [passing, noSourceCa, noTargetCa]) {
      for (const secret of [sourceToken, targetToken, 'BEGIN CERTIFICATE']) expect(out.stdout + out.stderr).not.toContain(secret);
    }
  }, 240_000); // four CLI processes, one after another

  it('run migrates with the CA flags: SUCCESSFUL, rows identical', async () => {
    const [products] = [names[0]!];
    const { code, stdout, stderr } = await cli(['run', '--type', 'offline', ...clusters(true, true), '--collection', `${products}:${products}_tls`, '--json']);
    expect(code, stderr).toBe(0);
    const job = JSON.parse(stdout);
    expect(job).toMatchObject({ status: 'SUCCESSFUL', source: { uri: source.uri }, target: { uri: target.uri } });
    await expectSameRows(sourceUri, products, targetUri, `${products}_tls`);
    expect(target.rawCallsByMethod.Insert).toBeGreaterThan(0);
    for (const secret of [sourceToken, targetToken, 'BEGIN CERTIFICATE']) expect(stdout + stderr).not.toContain(secret);
  }, 180_000);
});
