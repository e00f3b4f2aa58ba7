import { verify } from '../../lib/migration/verify';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('verify', verify);
