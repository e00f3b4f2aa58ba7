import type { ClusterConnection, ClusterCredentials } from '../cluster';

/**
 * Where cluster credentials live while a job runs, apart from the job table: Secrets Manager on
 * AWS, process memory locally. Only an opaque reference is written on the job.
 */
export interface CredentialStore {
  /**
   * Keeps the connection's credentials for the job and returns the reference to store on the job.
   * `run` > 1: saved again for a resume (those of the earlier run were deleted when it ended).
   */
  save(jobId: string, role: 'source' | 'target', connection: ClusterConnection, options?: { run?: number }): Promise<string>;
  /** Resolves a reference back to what a client needs to connect. */
  resolve(ref: string): Promise<ClusterCredentials>;
  /** Forgets credentials this store created for the job (not user-owned secrets). */
  release(ref: string): Promise<void>;
}
