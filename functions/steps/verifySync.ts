import { verifySync } from '../../lib/sync/verifySync';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('verifySync', verifySync, connectingServices);
