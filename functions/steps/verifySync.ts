import { verifySync } from '../../lib/sync/verifySync';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('verifySync', verifySync);
