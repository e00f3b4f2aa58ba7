import { buildIndexes } from '../../lib/migration/buildIndexes';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('buildIndexes', buildIndexes, connectingServices);
