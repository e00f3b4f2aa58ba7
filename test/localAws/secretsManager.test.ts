import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeTemplate } from '../../infra/synth';
import { SecretsManagerCredentialStore } from '../../lib/credentials/secretsManagerCredentialStore';
import { createLocalAccount, type LocalAccount } from '../../local/aws/account';
import { startSecretsManager, type LocalSecretsManager } from '../../local/aws/secretsManager';
import { clientConfig, edited, fn, logicalIdOf } from './support';

const template = synthesizeTemplate();

async function started(account: LocalAccount) {
  const server = await startSecretsManager({ account });
  const client = (part: string) => new SecretsManagerClient(clientConfig(server.endpoint, fn(account, part).credentials));
  return { server, client };
}

describe('Secrets Manager emulation, driven by the SDK as the template functions', () => {
  const account = createLocalAccount(template);
  let server: LocalSecretsManager;
  let api: SecretsManagerClient;
  let verify: SecretsManagerClient;
  let finalize: SecretsManagerClient;
  beforeAll(async () => {
    ({ server } = await started(account));
    const client = (part: string) => new SecretsManagerClient(clientConfig(server.endpoint, fn(account, part).credentials));
    [api, verify, finalize] = [client('Api'), client('verify'), client('finalize')];
  });
  afterAll(() => server.stop());

  it('the credential store saves as the Api function, reads as a step, releases as finalize', async () => {
    const keyArn = fn(account, 'Api').environment.CREDENTIALS_KMS_KEY_ID!;
    const save = new SecretsManagerCredentialStore({ client: api, kmsKeyId: keyArn });
    const arn = await save.save('job-1', 'source', { uri: 'http://milvus:19530', token: 'root:Milvus' });
    expect(arn).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:milvus-migrate\/job-1\/source-[A-Za-z0-9]{6}$/);
    // A retried save: CreateSecret answers ResourceExistsException, the store overwrites with PutSecretValue.
    expect(await save.save('job-1', 'source', { uri: 'http://milvus:19531', token: 'root:Milvus' })).toBe(arn);

    expect(await new SecretsManagerCredentialStore({ client: verify }).resolve(arn)).toEqual({ uri: 'http://milvus:19531', token: 'root:Milvus' });
    const described = await api.send(new DescribeSecretCommand({ SecretId: 'milvus-migrate/job-1/source' }));
    expect(described).toMatchObject({ ARN: arn, KmsKeyId: keyArn });
    expect(described.Tags).toContainEqual({ Key: 'milvus-migrate:managed', Value: 'true' });
    expect(described.CreatedDate).toBeInstanceOf(Date);

    await new SecretsManagerCredentialStore({ client: finalize }).release(arn);
    expect(server.secretNames()).not.toContain('milvus-migrate/job-1/source');
    await expect(verify.send(new GetSecretValueCommand({ SecretId: arn }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    expect(account.deniedCalls()).toEqual([]);
  });

  it('answers AWS errors the SDK maps: exists, not found, validation', async () => {
    await api.send(new CreateSecretCommand({ Name: 'milvus-migrate/dup', SecretString: '{}' }));
    await expect(api.send(new CreateSecretCommand({ Name: 'milvus-migrate/dup', SecretString: '{}' }))).rejects.toMatchObject({ name: 'ResourceExistsException', message: 'The operation failed because the secret milvus-migrate/dup already exists.' });
    await expect(api.send(new CreateSecretCommand({ Name: 'milvus-migrate/dup', SecretString: '{}' }))).rejects.toBeInstanceOf(ResourceExistsException);
    await expect(api.send(new CreateSecretCommand({ Name: 'milvus-migrate/bad name', SecretString: '{}' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(api.send(new CreateSecretCommand({ Name: `milvus-migrate/${'x'.repeat(600)}`, SecretString: '{}' }))).rejects.toMatchObject({ name: 'ValidationException' });
    const tooBig = await api.send(new CreateSecretCommand({ Name: 'milvus-migrate/big', SecretString: 'x'.repeat(65_537) })).catch((e: Error) => e);
    expect(tooBig).toMatchObject({ name: 'ValidationException' });
    expect((tooBig as Error).message).not.toContain('xxxx'); // the value is never quoted back
    await expect(api.send(new CreateSecretCommand({ Name: undefined as unknown as string }))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(api.send(new DeleteSecretCommand({ SecretId: 'milvus-migrate/dup', ForceDeleteWithoutRecovery: true, RecoveryWindowInDays: 7 }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await api.send(new TagResourceCommand({ SecretId: 'milvus-migrate/dup', Tags: [{ Key: 'k', Value: 'v' }] }));
    expect((await api.send(new DescribeSecretCommand({ SecretId: 'milvus-migrate/dup' }))).Tags).toEqual([{ Key: 'k', Value: 'v' }]);
    await expect(api.send(new DescribeSecretCommand({ SecretId: 'milvus-migrate/none' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('refuses what a role does not allow, with AWS wording, and logs it', async () => {
    account.clearPermissionLog();
    const copyShard = fn(account, 'copyShard');
    const client = new SecretsManagerClient(clientConfig(server.endpoint, copyShard.credentials));
    const error = await client.send(new CreateSecretCommand({ Name: 'milvus-migrate/steal', SecretString: '{}' })).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'AccessDeniedException' });
    expect((error as Error).message).toMatch(
      new RegExp(`^User: arn:aws:sts::000000000000:assumed-role/${copyShard.roleName}/${copyShard.name} is not authorized to perform: secretsmanager:CreateSecret on resource: arn:aws:secretsmanager:us-east-1:000000000000:secret:milvus-migrate/steal-[A-Za-z0-9]{6} because no identity-based policy allows the secretsmanager:CreateSecret action$`),
    );
    // The Api function saves credentials but never reads them back.
    await api.send(new CreateSecretCommand({ Name: 'milvus-migrate/readable', SecretString: '{"uri":"x"}' }));
    await expect(api.send(new GetSecretValueCommand({ SecretId: 'milvus-migrate/readable' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(account.deniedCalls()).toEqual([
      expect.objectContaining({ functionLogicalId: copyShard.logicalId, action: 'secretsmanager:CreateSecret', resource: expect.stringContaining(':secret:milvus-migrate/steal-') }),
      expect.objectContaining({ functionLogicalId: fn(account, 'Api').logicalId, action: 'secretsmanager:GetSecretValue' }),
    ]);
  });

  it('refuses unknown keys and bad signatures', async () => {
    const stranger = new SecretsManagerClient(clientConfig(server.endpoint, { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x'.repeat(40), sessionToken: 't' }));
    await expect(stranger.send(new DescribeSecretCommand({ SecretId: 'x' }))).rejects.toMatchObject({ name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 400 } });
    const forged = new SecretsManagerClient(clientConfig(server.endpoint, { ...fn(account, 'Api').credentials, secretAccessKey: 'y'.repeat(40) }));
    await expect(forged.send(new DescribeSecretCommand({ SecretId: 'x' }))).rejects.toMatchObject({ name: 'InvalidSignatureException' });
    const otherToken = new SecretsManagerClient(clientConfig(server.endpoint, { ...fn(account, 'Api').credentials, sessionToken: fn(account, 'verify').credentials.sessionToken }));
    await expect(otherToken.send(new DescribeSecretCommand({ SecretId: 'x' }))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    const late = new SecretsManagerClient({ ...clientConfig(server.endpoint, fn(account, 'Api').credentials), systemClockOffset: -20 * 60 * 1000 });
    await expect(late.send(new DescribeSecretCommand({ SecretId: 'x' }))).rejects.toMatchObject({ name: 'InvalidSignatureException', message: expect.stringContaining('Signature expired') });
    // The same client with the right clock gets through to the (absent) secret.
    const onTime = new SecretsManagerClient(clientConfig(server.endpoint, fn(account, 'Api').credentials));
    await expect(onTime.send(new DescribeSecretCommand({ SecretId: 'milvus-migrate/absent' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('Secrets Manager guards: KMS on the caller behalf', () => {
  it('a step without kms:Decrypt on the credentials key cannot read the secret', async () => {
    const verifyPolicy = logicalIdOf(template, 'AWS::IAM::Policy', 'StepverifyRoleDefaultPolicy');
    const account = createLocalAccount(edited(template, (r) => {
      const doc = r[verifyPolicy].Properties.PolicyDocument;
      doc.Statement = doc.Statement.filter((s: { Action: unknown }) => s.Action !== 'kms:Decrypt');
    }));
    const { server, client } = await started(account);
    try {
      const keyArn = fn(account, 'Api').environment.CREDENTIALS_KMS_KEY_ID!;
      const arn = await new SecretsManagerCredentialStore({ client: client('Api'), kmsKeyId: keyArn }).save('job-2', 'target', { uri: 'http://m:19530' });
      await expect(client('verify').send(new GetSecretValueCommand({ SecretId: arn }))).rejects.toMatchObject({ name: 'AccessDeniedException', message: 'Access to KMS is not allowed' });
      expect(account.deniedCalls()).toEqual([expect.objectContaining({ functionLogicalId: fn(account, 'verify').logicalId, action: 'kms:Decrypt', resource: keyArn })]);
      // The unchanged template lets it read (same calls, other account).
      const intact = createLocalAccount(template);
      const ok = await started(intact);
      try {
        const arn2 = await new SecretsManagerCredentialStore({ client: ok.client('Api'), kmsKeyId: keyArn }).save('job-2', 'target', { uri: 'http://m:19530' });
        expect((await ok.client('verify').send(new GetSecretValueCommand({ SecretId: arn2 }))).SecretString).toContain('http://m:19530');
      } finally {
        await ok.server.stop();
      }
    } finally {
      await server.stop();
    }
  });

  it('the Api cannot create a secret under a key whose policy does not delegate to IAM', async () => {
    const keyId = logicalIdOf(template, 'AWS::KMS::Key', 'CredentialsKey');
    const account = createLocalAccount(edited(template, (r) => {
      r[keyId].Properties.KeyPolicy.Statement = [{ Effect: 'Allow', Principal: { Service: 'secretsmanager.amazonaws.com' }, Action: 'kms:*', Resource: '*' }];
    }));
    const { server, client } = await started(account);
    try {
      const keyArn = fn(account, 'Api').environment.CREDENTIALS_KMS_KEY_ID!;
      await expect(client('Api').send(new CreateSecretCommand({ Name: 'milvus-migrate/k', SecretString: '{}', KmsKeyId: keyArn }))).rejects.toMatchObject({ name: 'AccessDeniedException', message: 'Access to KMS is not allowed' });
      expect(account.deniedCalls()).toEqual([expect.objectContaining({ action: 'kms:GenerateDataKey', resource: keyArn, reason: expect.stringMatching(/^key policy of CredentialsKey/) })]);
      expect(server.secretNames()).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
