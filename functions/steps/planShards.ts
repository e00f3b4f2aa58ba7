import { planShards } from '../../lib/migration/planShards';
import { connectingServices } from '../clusterPool';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('planShards', planShards, connectingServices);
