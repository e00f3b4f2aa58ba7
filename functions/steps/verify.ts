import { verify } from '../../lib/migration/verify';
import { openPooledCluster } from '../../lib/milvus/pool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('verify', verify, openPooledCluster);
