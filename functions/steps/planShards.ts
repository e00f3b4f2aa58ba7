import { planShards } from '../../lib/migration/planShards';
import { openPooledCluster } from '../../lib/milvus/pool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('planShards', planShards, openPooledCluster);
