import { preflight } from '../../lib/migration/preflight';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('preflight', preflight);
