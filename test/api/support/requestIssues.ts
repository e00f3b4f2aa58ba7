import { ValidationError } from '../../../lib/api/errors';
import { CreateMigrationBody, parseRequest } from '../../../lib/api/requests';

/** The field issues a create request is refused with ("path: message"); fails when it is accepted. */
export function issuesOf(body: unknown): string[] {
  try {
    parseRequest(CreateMigrationBody, body, 'body');
  } catch (error) {
    if (error instanceof ValidationError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
  throw new Error('the body was accepted');
}
