import { verify } from '../../lib/migration/verify';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('verify', verify, connectingServices);
