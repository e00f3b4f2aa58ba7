import { createTargetCollection } from '../../lib/migration/createTargetCollection';
import { openPooledCluster } from '../../lib/milvus/pool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('createTargetCollection', createTargetCollection, openPooledCluster);
