import { finalize } from '../../lib/migration/finalize';
import { openPooledCluster } from '../../lib/milvus/pool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('finalize', finalize, openPooledCluster);
