import { startSync } from '../../lib/sync/startSync';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('startSync', startSync);
