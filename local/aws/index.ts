/** The local AWS side of the deployed service: an account made from the template and its emulators. */
export { createLocalAccount, type LocalAccount, type LocalAccountOptions, type LocalFunction, type FunctionCredentials, type PermissionLogEntry, type AuthorizationDecision } from './account';
export { type RunningServer } from './awsJsonServer';
export { startSecretsManager, type LocalSecretsManager } from './secretsManager';
export { startEventBridge, type LocalEventBridge, type Delivery, type BusEvent } from './eventBridge';
export { startStepFunctions, type StepFunctionsCallbacks, type ExecutionDescription, type ExecutionStatus } from './stepFunctions';
export { startDynamoProxy } from './dynamoProxy';
export { functionEnvironment, type LocalAwsEndpoints } from './functionEnvironment';
