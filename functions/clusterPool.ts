import type { ClusterCredentials } from '../lib/cluster';
import type { Services } from '../lib/services';
import type { MilvusGateway } from '../lib/milvus';
import { ClusterPool } from '../lib/milvus/pool';
import { lambdaStepServices } from './lambdaServices';

/** The pool of a Lambda container, made on first use: warm invocations reuse its connections. */
let containerPool: ClusterPool | undefined;

/** Opens a cluster through the container's pool. */
function openPooledCluster(credentials: ClusterCredentials): MilvusGateway {
  containerPool ??= new ClusterPool();
  return containerPool.open(credentials);
}

/**
 * The Lambda services of a step that connects to the clusters (functions/stepHandler.ts). Only the
 * adapters of such steps import this module, so the functions that never connect neither bundle
 * nor load the Milvus SDK.
 */
export const connectingServices = (): Promise<Services> => lambdaStepServices(openPooledCluster);
