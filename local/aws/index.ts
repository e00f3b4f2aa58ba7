/** The local AWS side of the deployed service: an account made from the template and its emulators. */
export { createLocalAccount, type LocalAccount, type LocalFunction } from './account';
export { type RunningServer } from './awsJsonServer';
export { startSecretsManager, type LocalSecretsManager } from './secretsManager';
export { startEventBridge, type LocalEventBridge } from './eventBridge';
export { startStepFunctions } from './stepFunctions';
export { startDynamoProxy } from './dynamoProxy';
export { functionEnvironment, type LocalAwsEndpoints } from './functionEnvironment';
