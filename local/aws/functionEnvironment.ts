import type { LocalAccount, LocalFunction } from './account';

/** Where the local AWS services listen (the `endpoint` of each running emulator). */
export interface LocalAwsEndpoints {
  dynamodb?: string;
  secretsManager?: string;
  eventBridge?: string;
  stepFunctions?: string;
}

/**
 * The environment a function's code runs with locally: the variables of the synthesized template,
 * the ones the Lambda runtime sets (region, function name, memory, temporary credentials of the
 * function's role), and the SDK's standard service endpoint variables pointing at the emulators.
 * The SDK reads AWS_ENDPOINT_URL_<SERVICE> itself: the bundled code needs no local switch.
 */
export function functionEnvironment(account: LocalAccount, fn: LocalFunction, endpoints: LocalAwsEndpoints): Record<string, string> {
  return {
    ...fn.environment,
    AWS_REGION: account.region,
    AWS_DEFAULT_REGION: account.region,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMiB),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_ACCESS_KEY_ID: fn.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: fn.credentials.secretAccessKey,
    AWS_SESSION_TOKEN: fn.credentials.sessionToken,
    ...(endpoints.dynamodb ? { AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb } : {}),
    ...(endpoints.secretsManager ? { AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsManager } : {}),
    ...(endpoints.eventBridge ? { AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.eventBridge } : {}),
    ...(endpoints.stepFunctions ? { AWS_ENDPOINT_URL_SFN: endpoints.stepFunctions } : {}),
  };
}
