import { drainChanges } from '../../lib/sync/drainChanges';
import { openPooledCluster } from '../../lib/milvus/pool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('drainChanges', drainChanges, openPooledCluster);
