import { preflight } from '../../lib/migration/preflight';
import { openPooledCluster } from '../../lib/milvus/pool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('preflight', preflight, openPooledCluster);
