import type { ClusterCredentials } from './cluster';
import type { CredentialStore } from './credentials/store';
import type { JobStore } from './jobs/store';
import type { MilvusCluster } from './milvus';
import type { JobNotifier } from './notifications/notifier';

/** What the steps of a migration need from the outside world; wired from the environment on AWS, injected locally. */
export interface Services {
  jobs: JobStore;
  credentials: CredentialStore;
  openCluster(credentials: ClusterCredentials): MilvusCluster;
  /** Alerts and job outcomes for the operator (EventBridge on AWS; locally the job's event log is enough). */
  notifier: JobNotifier;
  now(): Date;
}

let current: Services | Promise<Services> | undefined;

/** The local runtime and tests inject their services here. */
export function setServices(services: Services | undefined): void {
  current = services;
}

/**
 * The injected services, or (in a Lambda) the ones built from the environment on first use, opening
 * clusters with `openCluster` (steps that connect pass lib/milvus/pool.ts openPooledCluster).
 */
export async function getServices(openCluster?: Services['openCluster']): Promise<Services> {
  if (!current) {
    const { servicesFromEnvironment } = await import('./servicesFromEnvironment');
    current = servicesFromEnvironment(process.env, undefined, openCluster);
  }
  return current;
}
