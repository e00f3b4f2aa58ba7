import { createTargetCollection } from '../../lib/migration/createTargetCollection';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('createTargetCollection', createTargetCollection, connectingServices);
