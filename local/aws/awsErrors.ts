import type { Caller } from './account';

/** An error answered as AWS JSON protocols do: `__type`, `message` and an HTTP status the SDK maps to its exception class. */
export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** AWS's wording for a call no identity policy allows (the SDK raises AccessDeniedException). */
export function accessDenied(caller: Caller, action: string, resource: string, reason: string): AwsError {
  const because = reason.startsWith('explicitly denied')
    ? `with an explicit deny in an identity-based policy`
    : `because no identity-based policy allows the ${action} action`;
  return new AwsError('AccessDeniedException', `User: ${caller.arn} is not authorized to perform: ${action} on resource: ${resource} ${because}`, 400);
}
