import { drainChanges } from '../../lib/sync/drainChanges';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('drainChanges', drainChanges, connectingServices);
