import { verifySync } from '../../lib/sync/verifySync';
import { openPooledCluster } from '../../lib/milvus/pool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('verifySync', verifySync, openPooledCluster);
