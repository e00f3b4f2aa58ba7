import { describe, expect, it } from 'vitest';
import { localFunctionArn, stateMachineDefinition, synthesizeTemplate } from '../../infra/synth';
import { createLocalAccount } from '../../local/aws/account';
import { edited, fn, logicalIdOf } from './support';

const template = synthesizeTemplate();

describe('local account from the synthesized template', () => {
  const account = createLocalAccount(template, { tableName: 'jobs-local' });

  it('gives every resource a physical identity CloudFormation-style', () => {
    expect(account.table).toMatchObject({ name: 'jobs-local', arn: 'arn:aws:dynamodb:us-east-1:000000000000:table/jobs-local' });
    const [machine] = Object.values(account.stateMachines);
    expect(machine!.arn).toMatch(/^arn:aws:states:us-east-1:000000000000:stateMachine:Migration[A-Za-z0-9]+-[A-Za-z0-9]{12}$/);
    expect(machine!.arn.endsWith(`:${machine!.name}`)).toBe(true);
    const key = Object.values(account.kmsKeys).find((k) => k.logicalId.startsWith('CredentialsKey'))!;
    expect(key.arn).toBe(`arn:aws:kms:us-east-1:000000000000:key/${key.keyId}`);
    const logGroup = logicalIdOf(template, 'AWS::Logs::LogGroup', 'ApiLogs');
    expect(account.resolve({ 'Fn::GetAtt': [logGroup, 'Arn'] })).toBe(`arn:aws:logs:us-east-1:000000000000:log-group:${account.identity(logGroup).ref}:*`);
    const topic = logicalIdOf(template, 'AWS::SNS::Topic', 'Alerts');
    expect(account.resolve({ Ref: topic })).toMatch(/^arn:aws:sns:us-east-1:000000000000:MilvusMigrate-NotificationsAlerts/);
    // Every output of the template resolves (API URL, state machine ARN, table name, topic ARN).
    const outputs = account.resolve(template.Outputs) as Record<string, { Value: string }>;
    expect(outputs.ApiUrl!.Value).toMatch(/^https:\/\/[a-z0-9]{10}\.execute-api\.us-east-1\.amazonaws\.com\/v1\/$/);
    expect(outputs.JobsTableName!.Value).toBe('jobs-local');
  });

  it('resolves the properties of every resource of the template', () => {
    const unresolved = Object.entries(template.Resources).flatMap(([id, resource]) => {
      try {
        account.resolve(resource.Properties ?? {});
        return [];
      } catch (error) {
        return [`${id}: ${(error as Error).message}`];
      }
    });
    expect(unresolved).toEqual([]);
  });

  it('resolves the intrinsics of the template and refuses what it does not know', () => {
    expect(account.resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${!Literal}' })).toBe('arn:aws:x:us-east-1:000000000000:${Literal}');
    expect(account.resolve({ 'Fn::Sub': '${' + account.table.logicalId + '.Arn}' })).toBe(account.table.arn);
    expect(() => account.resolve({ 'Fn::Sub': 'x-${Name}' })).toThrow(/no resource Name/);
    expect(account.resolve({ 'Fn::Sub': ['${AWS::StackName}/${Thing}/${!Literal}', { Thing: { 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] } }] })).toBe('MilvusMigrate/b/${Literal}');
    expect(() => account.resolve({ 'Fn::If': ['Cond', 'a', 'b'] })).toThrow(/Fn::If is not resolved locally/);
    expect(() => account.resolve({ 'Fn::GetAtt': [account.table.logicalId, 'NoSuchAttribute'] })).toThrow(/NoSuchAttribute/);
    expect(() => account.resolve({ Ref: 'Nope' })).toThrow(/no resource Nope/);
  });

  it('describes each function with its environment, role and credentials of its own', () => {
    const api = fn(account, 'Api');
    expect(api).toMatchObject({ handler: 'index.handler', runtime: 'nodejs22.x', memoryMiB: 512, timeoutSeconds: 29 });
    expect(api.environment.JOBS_TABLE).toBe('jobs-local');
    expect(api.environment.STATE_MACHINE_ARN).toBe(Object.values(account.stateMachines)[0]!.arn);
    expect(api.environment.CREDENTIALS_KMS_KEY_ID).toMatch(/^arn:aws:kms:us-east-1:000000000000:key\//);
    expect(api.assumedRoleArn).toBe(`arn:aws:sts::000000000000:assumed-role/${api.roleName}/${api.name}`);
    const copyShard = fn(account, 'copyShard');
    expect(copyShard).toMatchObject({ memoryMiB: 1024, timeoutSeconds: 900 });
    const keys = Object.values(account.functions).map((f) => f.credentials.accessKeyId);
    // One key per function: 15 functions (the API and 14 steps).
    expect(new Set(keys).size).toBe(Object.keys(account.functions).length);
    expect(Object.keys(account.functions)).toHaveLength(15);
    expect(createLocalAccount(template).functions[api.logicalId]!.credentials).toEqual(api.credentials); // deterministic
    // Same function ARNs as the state machine definition infra/synth.ts resolves.
    for (const arn of Object.keys(stateMachineDefinition(template).functions)) {
      const logicalId = stateMachineDefinition(template).functions[arn]!.logicalId;
      expect(account.functions[logicalId]!.arn).toBe(arn);
      expect(arn).toBe(localFunctionArn(logicalId));
    }
  });

  it('authorizes by the identity policy of the caller and logs every decision', () => {
    account.clearPermissionLog();
    const api = fn(account, 'Api');
    const secret = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:milvus-migrate/j1/source-AbCdEf';
    expect(account.authorize({ accessKeyId: api.credentials.accessKeyId, action: 'secretsmanager:CreateSecret', resource: secret }).allowed).toBe(true);
    const denied = account.authorize({ accessKeyId: api.credentials.accessKeyId, action: 'secretsmanager:GetSecretValue', resource: secret });
    expect(denied).toMatchObject({ allowed: false, reason: 'no identity-based policy allows the secretsmanager:GetSecretValue action' });
    // Outside the prefix the resource pattern allows.
    expect(account.authorize({ accessKeyId: api.credentials.accessKeyId, action: 'secretsmanager:CreateSecret', resource: secret.replace('milvus-migrate/', 'other/') }).allowed).toBe(false);
    expect(account.deniedCalls()).toEqual([
      expect.objectContaining({ functionLogicalId: api.logicalId, action: 'secretsmanager:GetSecretValue', resource: secret, allowed: false }),
      expect.objectContaining({ functionLogicalId: api.logicalId, action: 'secretsmanager:CreateSecret', allowed: false }),
    ]);
    expect(account.permissionLog()).toHaveLength(3);
  });

  it('evaluates the events:source condition of the notifying steps', () => {
    const finalize = fn(account, 'finalize');
    const bus = 'arn:aws:events:us-east-1:000000000000:event-bus/default';
    const put = (source?: string) => account.authorize({ accessKeyId: finalize.credentials.accessKeyId, action: 'events:PutEvents', resource: bus, context: source ? { 'events:source': source } : {} });
    expect(put('milvus-migrate').allowed).toBe(true);
    const other = put('someone-else');
    expect(other.allowed).toBe(false);
    expect(other.failedConditions.join()).toContain('StringEquals events:source');
    expect(put(undefined).allowed).toBe(false); // a missing key fails StringEquals
  });

  it('checks the key policy too for KMS calls, where the account root delegates to IAM', () => {
    const finalize = fn(account, 'finalize');
    const key = Object.values(account.kmsKeys).find((k) => k.logicalId.startsWith('CredentialsKey'))!;
    const viaService = 'secretsmanager.us-east-1.amazonaws.com';
    expect(account.authorizeKms({ accessKeyId: finalize.credentials.accessKeyId, action: 'kms:Decrypt', key, viaService }).allowed).toBe(true);
    expect(account.authorizeKms({ accessKeyId: finalize.credentials.accessKeyId, action: 'kms:GenerateDataKey', key, viaService }).allowed).toBe(false);

    // Guard: a key policy without the root statement no longer delegates: the identity grant is not enough.
    const keyId = key.logicalId;
    const noRoot = createLocalAccount(edited(template, (r) => {
      r[keyId].Properties.KeyPolicy.Statement = [];
    }));
    const decision = noRoot.authorizeKms({ accessKeyId: finalize.credentials.accessKeyId, action: 'kms:Decrypt', key: noRoot.kmsKeys[keyId]!, viaService });
    expect(decision).toMatchObject({ allowed: false });
    expect(decision.reason).toMatch(/^key policy of CredentialsKey/);
  });

  it('fails closed on a condition operator it does not evaluate, and lets an explicit Deny win', () => {
    const api = fn(account, 'Api');
    const policyId = logicalIdOf(template, 'AWS::IAM::Policy', 'ApiRoleDefaultPolicy');
    const withStatements = (extra: object[]) =>
      createLocalAccount(edited(template, (r) => r[policyId].Properties.PolicyDocument.Statement.push(...extra)));
    const request = { accessKeyId: api.credentials.accessKeyId, action: 'states:StartExecution', resource: Object.values(account.stateMachines)[0]!.arn };
    expect(account.authorize(request).allowed).toBe(true);
    const dated = withStatements([{ Effect: 'Deny', Action: 'states:*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } } }]);
    expect(dated.authorize(request)).toMatchObject({ allowed: false, reason: expect.stringContaining('condition operator DateGreaterThan is not evaluated locally') });
    const denied = withStatements([{ Effect: 'Deny', NotAction: 'dynamodb:*', Resource: '*' }]);
    expect(denied.authorize(request)).toMatchObject({ allowed: false, reason: expect.stringContaining('explicitly denied') });
  });

  it('guard: removing the statement from the template denies the call', () => {
    const api = fn(account, 'Api');
    const policyId = logicalIdOf(template, 'AWS::IAM::Policy', 'ApiRoleDefaultPolicy');
    const without = createLocalAccount(edited(template, (r) => {
      const doc = r[policyId].Properties.PolicyDocument;
      doc.Statement = doc.Statement.filter((s: { Action: unknown }) => s.Action !== 'states:StartExecution');
    }));
    const request = { accessKeyId: api.credentials.accessKeyId, action: 'states:StartExecution', resource: Object.values(account.stateMachines)[0]!.arn };
    expect(account.authorize(request).allowed).toBe(true);
    expect(without.authorize(request).allowed).toBe(false);
    expect(without.deniedCalls()).toEqual([expect.objectContaining({ functionLogicalId: api.logicalId, action: 'states:StartExecution' })]);
  });
});
