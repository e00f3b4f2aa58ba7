import { planShards } from '../../lib/migration/planShards';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('planShards', planShards);
