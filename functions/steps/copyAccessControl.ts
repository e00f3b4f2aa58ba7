import { copyAccessControl } from '../../lib/migration/copyAccessControl';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('copyAccessControl', copyAccessControl, connectingServices);
