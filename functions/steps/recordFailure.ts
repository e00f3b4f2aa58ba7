import { recordFailure } from '../../lib/migration/recordFailure';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('recordFailure', recordFailure);
