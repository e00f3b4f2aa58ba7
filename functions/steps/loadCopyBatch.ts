import { loadCopyBatch } from '../../lib/migration/loadCopyBatch';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('loadCopyBatch', loadCopyBatch);
