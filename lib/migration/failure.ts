import type { JobError } from '../jobs/model';
import type { CaughtError } from '../workflow/steps';

/**
 * A step reports a domain error as `[CODE] message` (see functions/stepHandler.ts). Step Functions
 * hands it to RecordFailure as {Error, Cause}: locally Cause is that message, on AWS a JSON string
 * with errorMessage. Errors raised by Step Functions itself (States.Timeout, ...) have no code.
 */
export function describeFailure(caught: CaughtError, step?: string): JobError {
  const message = causeMessage(caught.Cause);
  const coded = /^\[([A-Z][A-Z0-9_]*)\] ([\s\S]*)$/.exec(message);
  if (coded) return { code: coded[1] as string, reason: coded[2] as string, step };
  const code = STATES_ERRORS[caught.Error] ?? 'INTERNAL';
  const reason = message || caught.Error;
  return { code, reason: code === 'INTERNAL' ? `${caught.Error}: ${reason}` : reason, step };
}

const STATES_ERRORS: Record<string, string> = {
  'States.Timeout': 'STEP_TIMEOUT',
  'Sandbox.Timedout': 'STEP_TIMEOUT',
  'States.TaskFailed': 'STEP_FAILED',
  'States.Runtime': 'STATE_MACHINE_RUNTIME',
  'Lambda.ServiceException': 'LAMBDA_UNAVAILABLE',
  'Lambda.TooManyRequestsException': 'LAMBDA_THROTTLED',
};

function causeMessage(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the local runtime passes the message itself
  }
  return cause;
}
