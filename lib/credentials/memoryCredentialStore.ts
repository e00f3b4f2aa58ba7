import { credentialsOf, type ClusterConnection, type ClusterCredentials } from '../cluster';
import { PermanentError } from '../errors';
import type { CredentialStore } from './store';

/**
 * Credentials in process memory, for the local runtime: the API and the steps run in one process,
 * so a Map is enough. References look like `local:<jobId>:<role>`; nothing survives a restart.
 */
export class MemoryCredentialStore implements CredentialStore {
  private readonly entries = new Map<string, ClusterCredentials>();

  async save(jobId: string, role: 'source' | 'target', connection: ClusterConnection): Promise<string> {
    if (connection.secretArn) {
      throw new PermanentError('SECRET_ARN_UNSUPPORTED', `${role}.secretArn needs AWS Secrets Manager; locally give token or username and password`);
    }
    const ref = `local:${jobId}:${role}`;
    this.entries.set(ref, credentialsOf(connection));
    return ref;
  }

  async resolve(ref: string): Promise<ClusterCredentials> {
    const credentials = this.entries.get(ref);
    if (!credentials) throw new PermanentError('CREDENTIALS_NOT_FOUND', `no credentials for ${ref} in this process (they are kept in memory only)`);
    return { ...credentials, ...(credentials.tls ? { tls: { ...credentials.tls } } : {}) };
  }

  async release(ref: string): Promise<void> {
    this.entries.delete(ref);
  }
}
