import { preflight } from '../../lib/migration/preflight';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('preflight', preflight, connectingServices);
