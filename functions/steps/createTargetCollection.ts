import { createTargetCollection } from '../../lib/migration/createTargetCollection';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('createTargetCollection', createTargetCollection);
