import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  type SecretsManagerClient,
  type Tag,
} from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { ClusterTls, credentialsOf, type ClusterConnection, type ClusterCredentials } from '../cluster';
import { PermanentError } from '../errors';
import type { CredentialStore } from './store';

export interface SecretsManagerCredentialStoreOptions {
  client: SecretsManagerClient;
  /** KMS key for the secrets this store creates; the account's default key when omitted. */
  kmsKeyId?: string;
  /** Extra tags on every secret this store creates. */
  tags?: Record<string, string>;
}

/** The tag that marks a secret as created (and so deletable) by this store. */
export const MANAGED_TAG = 'milvus-migrate:managed';
/**
 * A resume saves the credentials under a name of its own: the secret of the run that failed was
 * deleted, and Secrets Manager may refuse its name for a while after (it is "scheduled for deletion").
 */
const secretName = (jobId: string, role: 'source' | 'target', run = 1): string =>
  run === 1 ? `milvus-migrate/${jobId}/${role}` : `milvus-migrate/${jobId}/run${run}/${role}`;

/** What a secret holds: the same JSON as an inline connection, without secretArn (tls: a private CA). */
const SecretPayload = z.object({
  uri: z.string().min(1),
  token: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  tls: ClusterTls.optional(),
});

/**
 * Credentials on AWS: one secret per job and role (`milvus-migrate/<jobId>/<role>`). A secretArn
 * given in the request is used as is: its JSON must hold the uri too, and release never deletes it.
 */
export class SecretsManagerCredentialStore implements CredentialStore {
  private readonly client: SecretsManagerClient;
  private readonly kmsKeyId?: string;
  private readonly tags: Record<string, string>;

  constructor(options: SecretsManagerCredentialStoreOptions) {
    this.client = options.client;
    this.kmsKeyId = options.kmsKeyId;
    this.tags = options.tags ?? {};
  }

  async save(jobId: string, role: 'source' | 'target', connection: ClusterConnection, options: { run?: number } = {}): Promise<string> {
    if (connection.secretArn) return connection.secretArn;
    const secretString = JSON.stringify(credentialsOf(connection));
    const name = secretName(jobId, role, options.run);
    const tags: Tag[] = [
      ...Object.entries(this.tags).map(([Key, Value]) => ({ Key, Value })),
      { Key: MANAGED_TAG, Value: 'true' },
      { Key: 'milvus-migrate:job-id', Value: jobId },
      { Key: 'milvus-migrate:role', Value: role },
    ];
    try {
      const created = await this.client.send(
        new CreateSecretCommand({
          Name: name,
          Description: `${role} cluster credentials of milvus-migrate job ${jobId}`,
          SecretString: secretString,
          KmsKeyId: this.kmsKeyId,
          Tags: tags,
        }),
      );
      if (!created.ARN) throw new Error('CreateSecret returned no ARN');
      return created.ARN;
    } catch (error) {
      // A retried save of the same job: the secret is ours, so give it the new value.
      if (!(error instanceof ResourceExistsException)) throw error;
      const put = await this.client.send(new PutSecretValueCommand({ SecretId: name, SecretString: secretString }));
      if (!put.ARN) throw new Error('PutSecretValue returned no ARN', { cause: error });
      return put.ARN;
    }
  }

  async resolve(ref: string): Promise<ClusterCredentials> {
    let secretString: string | undefined;
    try {
      ({ SecretString: secretString } = await this.client.send(new GetSecretValueCommand({ SecretId: ref })));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) throw new PermanentError('CREDENTIALS_NOT_FOUND', `secret ${ref} does not exist`, { cause: error });
      throw error;
    }
    // Never put the parse error in the message: it quotes the secret.
    let payload: unknown;
    try {
      payload = JSON.parse(secretString ?? '');
    } catch {
      throw new PermanentError('CREDENTIALS_INVALID', `secret ${ref} does not hold JSON`);
    }
    const parsed = SecretPayload.safeParse(payload);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(root)').join(', ');
      throw new PermanentError('CREDENTIALS_INVALID', `secret ${ref} must hold JSON {uri, token?, username?, password?, tls?: {caCert?, serverName?}}; bad or missing: ${fields}`);
    }
    return credentialsOf(parsed.data);
  }

  async release(ref: string): Promise<void> {
    try {
      const { Tags = [] } = await this.client.send(new DescribeSecretCommand({ SecretId: ref }));
      if (!Tags.some((tag) => tag.Key === MANAGED_TAG && tag.Value === 'true')) return;
      await this.client.send(new DeleteSecretCommand({ SecretId: ref, ForceDeleteWithoutRecovery: true }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return;
      throw error;
    }
  }
}
