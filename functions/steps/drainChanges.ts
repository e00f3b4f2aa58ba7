import { drainChanges } from '../../lib/sync/drainChanges';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('drainChanges', drainChanges);
