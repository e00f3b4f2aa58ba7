import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiClient } from '../../cli/apiClient';
import { MIGRATION_STACK_ID } from '../../infra/migrationStack';
import { readAssembly } from '../../local/artifacts/assembly';
import { startArtifactRuntime, type ArtifactRuntime } from '../../local/artifactRuntime';

/**
 * The permission check of the artifact mode can fail: the same assets, with one statement removed
 * from one function's role, make that function's call refused and named.
 */

let dir: string;
let runtime: ArtifactRuntime;
let preflightFunction: string;

beforeAll(async () => {
  const assembly = readAssembly(inject('assemblyDir'));
  const template = structuredClone(assembly.template) as { Resources: Record<string, any> };
  preflightFunction = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Environment?.Variables?.STEP_ID === 'preflight')![0];
  const preflightRole = template.Resources[preflightFunction].Properties.Role['Fn::GetAtt'][0];
  const policy = Object.values(template.Resources).find((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((role: { Ref: string }) => role.Ref === preflightRole));
  const statements = policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>;
  policy.Properties.PolicyDocument.Statement = statements.filter((s) => s.Action !== 'secretsmanager:GetSecretValue');
  expect(policy.Properties.PolicyDocument.Statement.length).toBe(statements.length - 1);

  // The same assets (linked), with the changed template.
  dir = mkdtempSync(join(tmpdir(), 'assembly-without-permission-'));
  for (const entry of readdirSync(assembly.dir)) if (entry.startsWith('asset.')) symlinkSync(join(assembly.dir, entry), join(dir, entry));
  writeFileSync(join(dir, `${MIGRATION_STACK_ID}.template.json`), JSON.stringify(template));
  runtime = await startArtifactRuntime({ assemblyDir: dir, dynamoEndpoint: inject('dynamoEndpoint'), tableName: `jobs-perm-${Date.now()}`, retryIntervalOverrideMs: 50 });
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the permission check of the artifact mode', () => {
  it('refuses a call the role does not allow and names the function, the action and the resource', async () => {
    const api = new ApiClient(runtime.apiUrl);
    const created = (await api.create({ type: 'offline', source: { uri: inject('milvusSourceUri') }, target: { uri: inject('milvusTargetUri') } })) as { jobId: string };
    let job: { status: string; error?: { code: string; reason: string } };
    do {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = (await api.get(created.jobId)) as typeof job;
    } while (!['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(job.status));
    expect(job.status).toBe('FAILED');
    expect(job.error?.reason).toContain('is not authorized to perform: secretsmanager:GetSecretValue');
    expect(runtime.account.deniedCalls()).toContainEqual(
      expect.objectContaining({
        functionLogicalId: preflightFunction,
        action: 'secretsmanager:GetSecretValue',
        resource: expect.stringMatching(new RegExp(`:secret:milvus-migrate/${created.jobId}/source-\\w{6}$`)),
        allowed: false,
      }),
    );
  }, 120_000);
});
