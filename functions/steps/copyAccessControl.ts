import { copyAccessControl } from '../../lib/migration/copyAccessControl';
import { openPooledCluster } from '../../lib/milvus/pool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('copyAccessControl', copyAccessControl, openPooledCluster);
