import { randomBytes, randomUUID } from 'node:crypto';
import type { KmsKey, LocalAccount } from './account';
import { AwsError } from './awsErrors';
import { startAwsJsonServer, type CallContext, type RunningServer } from './awsJsonServer';

/**
 * Secrets Manager (JSON 1.1, target prefix `secretsmanager.`): the calls lib/credentials makes.
 * Secret values live in this process's memory only and are never logged or put in a message.
 * KMS is not emulated as a service: a customer-managed key is checked for permission
 * (kms:GenerateDataKey to write, kms:Decrypt to read, identity AND key policy) and nothing is
 * encrypted. Without KmsKeyId the AWS-managed aws/secretsmanager key is used, whose key policy
 * lets every principal of the account use it through Secrets Manager; identity policy not checked for it.
 */

interface StoredSecret {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  key?: KmsKey;
  tags: { Key: string; Value: string }[];
  versionId: string;
  secretString?: string;
  secretBinary?: string;
  createdDate: number;
  lastChangedDate: number;
  deletedDate?: number;
}

const NAME_CHARACTERS = /^[A-Za-z0-9/_+=.@-]+$/;
const MAX_SECRET_BYTES = 65_536;
const nowSeconds = (): number => Date.now() / 1000;

const notNull = (value: unknown, member: string): void => {
  if (value === undefined || value === null) throw new AwsError('ValidationException', `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
};
const optionalString = (value: unknown, member: string): string | undefined => {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new AwsError('SerializationException', `${member} must be a string`);
  return value;
};

const ARN_SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const arnSuffix = (): string => [...randomBytes(6)].map((byte) => ARN_SUFFIX_ALPHABET[byte % ARN_SUFFIX_ALPHABET.length]).join('');

export interface LocalSecretsManager extends RunningServer {
  /** Names of the secrets that exist (not their values), e.g. to check a job released its credentials. */
  secretNames(): string[];
}

export async function startSecretsManager(options: { account: LocalAccount; port?: number }): Promise<LocalSecretsManager> {
  const { account } = options;
  const secrets = new Map<string, StoredSecret>(); // by ARN
  const arnPrefix = `arn:aws:secretsmanager:${account.region}:${account.accountId}:secret:`;
  const viaService = `secretsmanager.${account.region}.amazonaws.com`;

  /** By name, full ARN, or partial ARN (the ARN without its 6-character suffix). */
  const find = (secretId: string): StoredSecret | undefined => {
    for (const secret of secrets.values()) {
      if (secret.arn === secretId || secret.name === secretId || `${arnPrefix}${secret.name}` === secretId) return secret;
    }
    return undefined;
  };
  /** The secret, authorized for action; not found (after authorization, as AWS answers) -> ResourceNotFoundException. */
  const secretFor = (input: Record<string, unknown>, action: string, call: CallContext): StoredSecret => {
    notNull(input.SecretId, 'secretId');
    const secretId = String(input.SecretId);
    const secret = find(secretId);
    call.authorize(action, secret?.arn ?? (secretId.startsWith('arn:') ? secretId : `${arnPrefix}${secretId}`), secret ? { 'secretsmanager:SecretId': secret.arn } : {});
    if (!secret) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  };
  const checkKms = (call: CallContext, secret: { key?: KmsKey; arn: string }, action: 'kms:GenerateDataKey' | 'kms:Decrypt'): void => {
    if (!secret.key) return;
    const decision = account.authorizeKms({
      accessKeyId: call.accessKeyId,
      action,
      key: secret.key,
      viaService,
      context: { 'kms:EncryptionContext:SecretARN': secret.arn, 'kms:EncryptionContextKeys': 'SecretARN' },
    });
    // Secrets Manager's own wording when KMS refuses it on the caller's behalf.
    if (!decision.allowed) throw new AwsError('AccessDeniedException', 'Access to KMS is not allowed', 400);
  };
  const secretValue = (input: Record<string, unknown>): { secretString?: string; secretBinary?: string } => {
    const secretString = optionalString(input.SecretString, 'SecretString');
    const secretBinary = optionalString(input.SecretBinary, 'SecretBinary');
    if (secretString !== undefined && secretBinary !== undefined) {
      throw new AwsError('InvalidParameterException', "You can't specify both a binary secret value and a string secret value in the same secret.");
    }
    const size = secretString !== undefined ? Buffer.byteLength(secretString) : secretBinary !== undefined ? Buffer.from(secretBinary, 'base64').length : 0;
    if (size > MAX_SECRET_BYTES) {
      // The value is never quoted back: AWS writes '***' for sensitive members too.
      throw new AwsError('ValidationException', `1 validation error detected: Value '***' at '${secretString !== undefined ? 'secretString' : 'secretBinary'}' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SECRET_BYTES}`);
    }
    return { ...(secretString !== undefined ? { secretString } : {}), ...(secretBinary !== undefined ? { secretBinary } : {}) };
  };
  const tagsOf = (value: unknown): { Key: string; Value: string }[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new AwsError('SerializationException', 'Tags must be a list');
    return value.map((tag: { Key?: unknown; Value?: unknown }) => {
      if (typeof tag?.Key !== 'string' || tag.Key.length < 1 || tag.Key.length > 128) throw new AwsError('InvalidParameterException', 'Invalid tag key.');
      if (typeof tag.Value !== 'string' || tag.Value.length > 256) throw new AwsError('InvalidParameterException', 'Invalid tag value.');
      return { Key: tag.Key, Value: tag.Value };
    });
  };
  const markedForDeletion = (secret: StoredSecret): void => {
    if (secret.deletedDate !== undefined) throw new AwsError('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.");
  };

  const server = await startAwsJsonServer({
    account,
    targetPrefix: 'secretsmanager',
    jsonVersion: '1.1',
    port: options.port,
    operations: {
      CreateSecret(input, call) {
        notNull(input.Name, 'name');
        const name = String(input.Name);
        if (name.length < 1 || name.length > 512) throw new AwsError('ValidationException', `1 validation error detected: Value '${name.slice(0, 64)}' at 'name' failed to satisfy constraint: Member must have length between 1 and 512`);
        if (!NAME_CHARACTERS.test(name)) throw new AwsError('InvalidParameterException', 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
        const value = secretValue(input);
        const tags = tagsOf(input.Tags);
        const kmsKeyId = optionalString(input.KmsKeyId, 'KmsKeyId');
        const existing = find(name);
        const arn = existing?.arn ?? `${arnPrefix}${name}-${arnSuffix()}`;
        const tagContext = tags.length ? { 'aws:TagKeys': tags.map((t) => t.Key), ...Object.fromEntries(tags.map((t) => [`aws:RequestTag/${t.Key}`, t.Value])) } : {};
        call.authorize('secretsmanager:CreateSecret', arn, { 'secretsmanager:Name': name, ...tagContext });
        // Tags given at creation need TagResource too (Secrets Manager documents both).
        if (tags.length) call.authorize('secretsmanager:TagResource', arn, tagContext);
        if (existing?.deletedDate !== undefined) throw new AwsError('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.");
        if (existing) throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
        let key: KmsKey | undefined;
        if (kmsKeyId !== undefined && kmsKeyId !== 'alias/aws/secretsmanager') {
          key = account.findKmsKey(kmsKeyId);
          if (!key) throw new AwsError('ResourceNotFoundException', `The KMS key ${kmsKeyId} is not a key of the template (only its keys exist locally).`);
        }
        if (value.secretString !== undefined || value.secretBinary !== undefined) checkKms(call, { key, arn }, 'kms:GenerateDataKey');
        const now = nowSeconds();
        const versionId = optionalString(input.ClientRequestToken, 'ClientRequestToken') ?? randomUUID();
        const description = optionalString(input.Description, 'Description');
        secrets.set(arn, { arn, name, ...(description !== undefined ? { description } : {}), ...(kmsKeyId !== undefined ? { kmsKeyId } : {}), ...(key ? { key } : {}), tags, versionId, ...value, createdDate: now, lastChangedDate: now });
        return { ARN: arn, Name: name, VersionId: versionId };
      },
      PutSecretValue(input, call) {
        const secret = secretFor(input, 'secretsmanager:PutSecretValue', call);
        markedForDeletion(secret);
        const value = secretValue(input);
        if (value.secretString === undefined && value.secretBinary === undefined) throw new AwsError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
        checkKms(call, secret, 'kms:GenerateDataKey');
        const versionId = optionalString(input.ClientRequestToken, 'ClientRequestToken') ?? randomUUID();
        delete secret.secretString;
        delete secret.secretBinary;
        Object.assign(secret, value, { versionId, lastChangedDate: nowSeconds() });
        return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: ['AWSCURRENT'] };
      },
      GetSecretValue(input, call) {
        const secret = secretFor(input, 'secretsmanager:GetSecretValue', call);
        markedForDeletion(secret);
        const stage = optionalString(input.VersionStage, 'VersionStage');
        const versionId = optionalString(input.VersionId, 'VersionId');
        if ((stage !== undefined && stage !== 'AWSCURRENT') || (versionId !== undefined && versionId !== secret.versionId)) {
          throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for VersionId or VersionStage.");
        }
        if (secret.secretString === undefined && secret.secretBinary === undefined) {
          throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT");
        }
        checkKms(call, secret, 'kms:Decrypt');
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionId: secret.versionId,
          ...(secret.secretString !== undefined ? { SecretString: secret.secretString } : { SecretBinary: secret.secretBinary }),
          VersionStages: ['AWSCURRENT'],
          CreatedDate: secret.lastChangedDate,
        };
      },
      DescribeSecret(input, call) {
        const secret = secretFor(input, 'secretsmanager:DescribeSecret', call);
        return {
          ARN: secret.arn,
          Name: secret.name,
          ...(secret.description !== undefined ? { Description: secret.description } : {}),
          ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
          Tags: secret.tags,
          CreatedDate: secret.createdDate,
          LastChangedDate: secret.lastChangedDate,
          ...(secret.deletedDate !== undefined ? { DeletedDate: secret.deletedDate } : {}),
          VersionIdsToStages: { [secret.versionId]: ['AWSCURRENT'] },
        };
      },
      DeleteSecret(input, call) {
        const secret = secretFor(input, 'secretsmanager:DeleteSecret', call);
        const force = input.ForceDeleteWithoutRecovery === true;
        const window = input.RecoveryWindowInDays;
        if (force && window !== undefined && window !== null) {
          throw new AwsError('InvalidParameterException', "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
        }
        const days = window === undefined || window === null ? 30 : Number(window);
        if (!force && (!Number.isInteger(days) || days < 7 || days > 30)) {
          throw new AwsError('InvalidParameterException', 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
        }
        if (force) {
          secrets.delete(secret.arn);
          return { ARN: secret.arn, Name: secret.name, DeletionDate: nowSeconds() };
        }
        markedForDeletion(secret);
        secret.deletedDate = nowSeconds();
        return { ARN: secret.arn, Name: secret.name, DeletionDate: secret.deletedDate + days * 86_400 };
      },
      TagResource(input, call) {
        notNull(input.Tags, 'tags');
        const secret = secretFor(input, 'secretsmanager:TagResource', call);
        for (const tag of tagsOf(input.Tags)) {
          const existing = secret.tags.find((t) => t.Key === tag.Key);
          if (existing) existing.Value = tag.Value;
          else secret.tags.push(tag);
        }
        return {};
      },
    },
  });
  return { ...server, secretNames: () => [...secrets.values()].filter((s) => s.deletedDate === undefined).map((s) => s.name) };
}
