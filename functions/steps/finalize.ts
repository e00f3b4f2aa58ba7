import { finalize } from '../../lib/migration/finalize';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('finalize', finalize, connectingServices);
