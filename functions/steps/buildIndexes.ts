import { buildIndexes } from '../../lib/migration/buildIndexes';
import { openPooledCluster } from '../../lib/milvus/pool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('buildIndexes', buildIndexes, openPooledCluster);
