import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryCredentialStore } from '../../lib/credentials/memoryCredentialStore';
import { MANAGED_TAG, SecretsManagerCredentialStore } from '../../lib/credentials/secretsManagerCredentialStore';
import { PermanentError } from '../../lib/errors';

describe('MemoryCredentialStore', () => {
  it('keeps credentials per job and role until released', async () => {
    const store = new MemoryCredentialStore();
    const source = await store.save('mig-1', 'source', { uri: 'http://s:19530', token: 'tok' });
    const target = await store.save('mig-1', 'target', { uri: 'http://t:19530', username: 'u', password: 'p' });
    expect([source, target]).toEqual(['local:mig-1:source', 'local:mig-1:target']);
    expect(await store.resolve(source)).toEqual({ uri: 'http://s:19530', token: 'tok' });
    expect(await store.resolve(target)).toEqual({ uri: 'http://t:19530', username: 'u', password: 'p' });
    await store.release(source);
    await expect(store.resolve(source)).rejects.toBeInstanceOf(PermanentError);
    expect(await store.resolve(target)).toMatchObject({ username: 'u' });
  });

  it('refuses a secretArn, which needs AWS', async () => {
    const store = new MemoryCredentialStore();
    await expect(
      store.save('mig-1', 'source', { uri: 'h:1', secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x' }),
    ).rejects.toMatchObject({ code: 'SECRET_ARN_UNSUPPORTED' });
  });
});

describe('SecretsManagerCredentialStore', () => {
  const sm = mockClient(SecretsManagerClient);
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:milvus-migrate/mig-1/source-AbCdEf';
  const userArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:team/milvus-AbCdEf';

  beforeEach(() => {
    sm.reset();
  });

  it('creates one tagged, optionally KMS encrypted secret per job and role', async () => {
    sm.on(CreateSecretCommand).resolves({ ARN: arn });
    const store = new SecretsManagerCredentialStore({ client, kmsKeyId: 'alias/migrate', tags: { team: 'search' } });
    expect(await store.save('mig-1', 'source', { uri: 'http://s:19530', token: 'tok' })).toBe(arn);
    expect(sm).toHaveReceivedCommandWith(CreateSecretCommand, {
      Name: 'milvus-migrate/mig-1/source',
      SecretString: JSON.stringify({ uri: 'http://s:19530', token: 'tok' }),
      KmsKeyId: 'alias/migrate',
      Tags: [
        { Key: 'team', Value: 'search' },
        { Key: MANAGED_TAG, Value: 'true' },
        { Key: 'milvus-migrate:job-id', Value: 'mig-1' },
        { Key: 'milvus-migrate:role', Value: 'source' },
      ],
    });
  });

  it('saves the credentials of a resume under a name of its own (the failed run\'s secret was deleted, its name may still be taken)', async () => {
    sm.on(CreateSecretCommand).resolves({ ARN: arn });
    const store = new SecretsManagerCredentialStore({ client });
    await store.save('mig-1', 'target', { uri: 'http://t:19530', token: 'tok2' }, { run: 2 });
    expect(sm).toHaveReceivedCommandWith(CreateSecretCommand, { Name: 'milvus-migrate/mig-1/run2/target', SecretString: JSON.stringify({ uri: 'http://t:19530', token: 'tok2' }) });
    await store.save('mig-1', 'target', { uri: 'http://t:19530', token: 'tok1' }, { run: 1 });
    expect(sm).toHaveReceivedCommandWith(CreateSecretCommand, { Name: 'milvus-migrate/mig-1/target' });
  });

  it('overwrites its own secret when a save is retried', async () => {
    sm.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', $metadata: {} }));
    sm.on(PutSecretValueCommand).resolves({ ARN: arn });
    const store = new SecretsManagerCredentialStore({ client });
    expect(await store.save('mig-1', 'source', { uri: 'h:1', username: 'u', password: 'p' })).toBe(arn);
    expect(sm).toHaveReceivedCommandWith(PutSecretValueCommand, { SecretId: 'milvus-migrate/mig-1/source' });
  });

  it('uses a given secretArn as is, without creating anything', async () => {
    const store = new SecretsManagerCredentialStore({ client });
    expect(await store.save('mig-1', 'target', { uri: 'h:1', secretArn: userArn })).toBe(userArn);
    expect(sm).not.toHaveReceivedCommand(CreateSecretCommand);
  });

  it('resolves a secret to connection credentials', async () => {
    sm.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: JSON.stringify({ uri: 'http://s:19530', username: 'u', password: 'p' }) });
    const store = new SecretsManagerCredentialStore({ client });
    expect(await store.resolve(arn)).toEqual({ uri: 'http://s:19530', username: 'u', password: 'p' });
  });

  it('refuses a secret that is not the expected JSON without quoting it', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'hunter2-not-json' }).resolvesOnce({ SecretString: JSON.stringify({ token: 'hunter2' }) });
    const store = new SecretsManagerCredentialStore({ client });
    const notJson = store.resolve(userArn);
    await expect(notJson).rejects.toMatchObject({ code: 'CREDENTIALS_INVALID' });
    await expect(notJson).rejects.not.toThrow(/hunter2/);
    const noUri = store.resolve(userArn);
    await expect(noUri).rejects.toThrow(/missing: uri/);
    await expect(noUri).rejects.not.toThrow(/hunter2/);
  });

  it('deletes the secrets it created and never a user-owned one', async () => {
    sm.on(DescribeSecretCommand, { SecretId: arn }).resolves({ ARN: arn, Tags: [{ Key: MANAGED_TAG, Value: 'true' }] });
    sm.on(DescribeSecretCommand, { SecretId: userArn }).resolves({ ARN: userArn, Tags: [{ Key: 'team', Value: 'search' }] });
    sm.on(DeleteSecretCommand).resolves({});
    const store = new SecretsManagerCredentialStore({ client });
    await store.release(userArn);
    await store.release(arn);
    expect(sm).toHaveReceivedCommandTimes(DeleteSecretCommand, 1);
    expect(sm).toHaveReceivedCommandWith(DeleteSecretCommand, { SecretId: arn, ForceDeleteWithoutRecovery: true });
  });

  it('treats releasing a secret that is gone as done', async () => {
    sm.on(DescribeSecretCommand).rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
    const store = new SecretsManagerCredentialStore({ client });
    await expect(store.release(arn)).resolves.toBeUndefined();
    expect(sm).not.toHaveReceivedCommand(DeleteSecretCommand);
  });
});
