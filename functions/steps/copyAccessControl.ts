import { copyAccessControl } from '../../lib/migration/copyAccessControl';
import { stepHandler } from '../stepHandler';

export const handler = stepHandler('copyAccessControl', copyAccessControl);
