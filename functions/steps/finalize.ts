import { finalize } from '../../lib/migration/finalize';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('finalize', finalize);
