import { buildIndexes } from '../../lib/migration/buildIndexes';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('buildIndexes', buildIndexes);
