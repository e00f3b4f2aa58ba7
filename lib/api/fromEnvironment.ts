import { SFNClient } from '@aws-sdk/client-sfn';
import * as z from 'zod';
import { parseEnvironment, ServicesEnvironment, servicesFromEnvironment } from '../servicesFromEnvironment';
import { SfnWorkflowStarter } from '../workflow/sfnWorkflowStarter';
import { MigrationService } from './service';

/** The environment the stack gives the API function: the steps' and the state machine to start. */
const ApiEnvironment = ServicesEnvironment.extend({
  STATE_MACHINE_ARN: z.string().regex(/^arn:aws[a-z-]*:states:/, 'STATE_MACHINE_ARN must be a state machine ARN'),
});
type ApiEnvironment = z.infer<typeof ApiEnvironment>;

/** Builds the API's service for AWS from the environment; fails at once naming what is missing. */
export function buildServiceFromEnvironment(env: NodeJS.ProcessEnv = process.env): MigrationService {
  const config = parseEnvironment(ApiEnvironment, env, 'API function');
  const { jobs, credentials } = servicesFromEnvironment(env, 'API function');
  return new MigrationService({
    jobs,
    credentials,
    workflow: new SfnWorkflowStarter({ client: new SFNClient({}), stateMachineArn: config.STATE_MACHINE_ARN }),
  });
}
