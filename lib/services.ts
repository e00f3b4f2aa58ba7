import type { ChangeLog } from './capture/changes';
import type { ClusterCredentials } from './cluster';
import type { CredentialStore } from './credentials/store';
import type { JobStore } from './jobs/store';
import type { MilvusGateway } from './milvus';
import type { JobNotifier } from './notifications/notifier';

/**
 * What the steps of a migration need from the outside world. Always passed in: every step takes
 * them as its first argument; the Lambda adapters (functions/) build them from the environment
 * (lib/servicesFromEnvironment.ts), the local runtime and tests build their own.
 */
export interface Services {
  jobs: JobStore;
  credentials: CredentialStore;
  openCluster(credentials: ClusterCredentials): MilvusGateway;
  /** Alerts and job outcomes for the operator (EventBridge on AWS; locally the job's event log is enough). */
  notifier: JobNotifier;
  now(): Date;
  /** The change log the capture endpoints write (sync strategy capture); absent where nothing reads it. */
  changeLog?: ChangeLog;
}
