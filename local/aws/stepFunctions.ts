import { randomUUID } from 'node:crypto';
import type { LocalAccount } from './account';
import { AwsError } from './awsErrors';
import { startAwsJsonServer, type RunningServer } from './awsJsonServer';

/**
 * The Step Functions API (JSON 1.0, target prefix `AWSStepFunctions.`): StartExecution,
 * StopExecution, DescribeExecution, validated and authorized as AWS does, delegating the running
 * to the local state machine runner through callbacks. Standard-workflow idempotency: the same
 * name and input while running returns the same execution; otherwise a reused name is
 * ExecutionAlreadyExists (AWS keeps names 90 days; here, for the life of the server).
 */

type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';

export interface ExecutionDescription {
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input?: string;
  output?: string;
  error?: string;
  cause?: string;
}

export interface StepFunctionsCallbacks {
  onStart(stateMachineArn: string, name: string, input: string): Promise<{ executionArn: string; startDate: Date }> | { executionArn: string; startDate: Date };
  onStop(executionArn: string, error?: string, cause?: string): Promise<void> | void;
  onDescribe(executionArn: string): Promise<ExecutionDescription | undefined> | ExecutionDescription | undefined;
}

const MAX_INPUT_BYTES = 256 * 1024;
// AWS: no whitespace, brackets < > { } [ ], wildcards ? *, special characters " # % \ ^ | ~ ` $ & , ; : /, control characters.
// eslint-disable-next-line no-control-regex -- control characters are among the forbidden ones
const FORBIDDEN_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

const required = (value: unknown, member: string): string => {
  if (value === undefined || value === null) throw new AwsError('ValidationException', `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  if (typeof value !== 'string') throw new AwsError('SerializationException', `${member} must be a string`);
  return value;
};
const epochSeconds = (date: Date): number => date.getTime() / 1000;

export async function startStepFunctions(options: { account: LocalAccount; port?: number } & StepFunctionsCallbacks): Promise<RunningServer> {
  const { account } = options;
  const machines = Object.values(account.stateMachines);
  const executionPrefix = `arn:aws:states:${account.region}:${account.accountId}:execution:`;
  /** Executions started here, by state machine ARN + name. */
  const started = new Map<string, { executionArn: string; startDate: Date; input: string; stateMachineArn: string; name: string }>();
  const byExecutionArn = (arn: string) => [...started.values()].find((e) => e.executionArn === arn);

  const executionArnOf = (input: Record<string, unknown>): string => {
    const arn = required(input.executionArn, 'executionArn');
    if (!arn.startsWith(executionPrefix) || arn.slice(executionPrefix.length).split(':').length !== 2) {
      throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${arn.split(':')[5] ?? arn}'`);
    }
    return arn;
  };

  return startAwsJsonServer({
    account,
    targetPrefix: 'AWSStepFunctions',
    jsonVersion: '1.0',
    port: options.port,
    operations: {
      async StartExecution(input, call) {
        const stateMachineArn = required(input.stateMachineArn, 'stateMachineArn');
        if (!/^arn:aws:states:[^:]+:\d{12}:stateMachine:[^:]+$/.test(stateMachineArn)) {
          throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${stateMachineArn.split(':')[5] ?? stateMachineArn}'`);
        }
        const name = input.name === undefined || input.name === null ? randomUUID() : required(input.name, 'name');
        if (name.length < 1 || name.length > 80 || FORBIDDEN_NAME.test(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
        const executionInput = input.input === undefined || input.input === null ? '{}' : required(input.input, 'input');
        if (Buffer.byteLength(executionInput) > MAX_INPUT_BYTES) {
          throw new AwsError('InvalidExecutionInput', `Invalid State Machine Execution Input: 'Input size exceeds the maximum of ${MAX_INPUT_BYTES} bytes'`);
        }
        try {
          JSON.parse(executionInput);
        } catch {
          // Not the parser's message: it quotes the input.
          throw new AwsError('InvalidExecutionInput', "Invalid State Machine Execution Input: 'the input is not valid JSON'");
        }
        call.authorize('states:StartExecution', stateMachineArn);
        if (!machines.some((m) => m.arn === stateMachineArn)) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);

        const key = `${stateMachineArn}|${name}`;
        const previous = started.get(key);
        if (previous) {
          const description = await options.onDescribe(previous.executionArn);
          if (previous.input === executionInput && description?.status === 'RUNNING') {
            return { executionArn: previous.executionArn, startDate: epochSeconds(previous.startDate) };
          }
          throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${previous.executionArn}'`);
        }
        const { executionArn, startDate } = await options.onStart(stateMachineArn, name, executionInput);
        started.set(key, { executionArn, startDate, input: executionInput, stateMachineArn, name });
        return { executionArn, startDate: epochSeconds(startDate) };
      },
      async StopExecution(input, call) {
        const executionArn = executionArnOf(input);
        const error = input.error === undefined ? undefined : required(input.error, 'error');
        const cause = input.cause === undefined ? undefined : required(input.cause, 'cause');
        if (error !== undefined && error.length > 256) throw new AwsError('ValidationException', "1 validation error detected: Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256");
        if (cause !== undefined && cause.length > 32_768) throw new AwsError('ValidationException', "1 validation error detected: Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768");
        call.authorize('states:StopExecution', executionArn);
        const description = await options.onDescribe(executionArn);
        if (!description) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
        await options.onStop(executionArn, error, cause);
        return { stopDate: epochSeconds(new Date()) };
      },
      async DescribeExecution(input, call) {
        const executionArn = executionArnOf(input);
        call.authorize('states:DescribeExecution', executionArn);
        const description = await options.onDescribe(executionArn);
        if (!description) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
        const [machineName = '', name = ''] = executionArn.slice(executionPrefix.length).split(':');
        const known = byExecutionArn(executionArn);
        return {
          executionArn,
          stateMachineArn: known?.stateMachineArn ?? `arn:aws:states:${account.region}:${account.accountId}:stateMachine:${machineName}`,
          name: known?.name ?? name,
          status: description.status,
          startDate: epochSeconds(description.startDate),
          ...(description.stopDate ? { stopDate: epochSeconds(description.stopDate) } : {}),
          input: description.input ?? known?.input,
          inputDetails: { included: true },
          ...(description.output !== undefined ? { output: description.output, outputDetails: { included: true } } : {}),
          ...(description.error !== undefined ? { error: description.error } : {}),
          ...(description.cause !== undefined ? { cause: description.cause } : {}),
        };
      },
    },
  });
}
