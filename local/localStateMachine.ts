import './polyfills';
import { randomUUID } from 'node:crypto';
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { StepId } from '../lib/workflow/steps';

/**
 * Runs a synthesized state machine definition in process with aws-local-stepfunctions: every Task
 * calls the local handler of the step its Lambda function carries in STEP_ID.
 */

/** Extra information a local step handler may use; Lambda handlers get none of it. */
interface LocalStepContext {
  stateName: string;
  stepId: StepId;
  executionArn: string;
  /** Aborted when the execution is; a long step may stop early. */
  signal: AbortSignal;
}
export type LocalStepHandler = (payload: any, context: LocalStepContext) => Promise<any>;

/** An event of the execution's log (aws-local-stepfunctions' EventLog), with the execution it belongs to. */
export type LocalExecutionEvent = EventLogOf<ReturnType<StateMachine['run']>['eventLogs']> & { executionArn: string };
type EventLogOf<T> = T extends AsyncGenerator<infer E> ? E : never;

export interface LocalExecutionResult {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  output?: unknown;
  error?: { Error: string; Cause?: string };
}

export interface LocalExecution {
  executionArn: string;
  result: Promise<LocalExecutionResult>;
  abort(): void;
}

export interface LocalStateMachine {
  start(input: unknown, name?: string): LocalExecution;
}

export interface LocalStateMachineOptions {
  /** The ASL definition, function ARNs resolved (infra/synth.ts stateMachineDefinition). */
  definition: Record<string, any>;
  /** Function ARN -> step id. */
  functions: Record<string, { stepId: StepId; logicalId?: string }>;
  handlers: Record<StepId, LocalStepHandler>;
  /** Wait state name -> milliseconds. */
  waitTimeOverrides?: Record<string, number>;
  /** State name -> milliseconds before a retry (or one value per retrier). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /** Milliseconds every Wait state waits, unless waitTimeOverrides names it. */
  waitTimeOverrideMs?: number;
  /** Milliseconds before every retry of every state, unless retryIntervalOverrides names it. */
  retryIntervalOverrideMs?: number;
  /**
   * Seconds after which a local Task times out, replacing every TimeoutSeconds of the definition.
   * @default 86,400 (a day)
   */
  taskTimeoutSeconds?: number;
  /**
   * The definition was validated already (local/definitionCache.ts validates what it caches):
   * aws-local-stepfunctions' validation (asl-validator's JSON schemas, compiled by ajv) cost about
   * 3.7 s of CPU at each start of the local runtime.
   */
  validated?: boolean;
  /** Name used in execution ARNs. @default 'Migration' */
  stateMachineName?: string;
  onEvent?(event: LocalExecutionEvent): void;
}

/**
 * On AWS a Task's TimeoutSeconds bounds one Lambda invocation (15 min at most), and a step stops
 * at its own time budget before that. Locally a step is a plain async function with no such
 * budget: a local copy of a large shard may legitimately run longer. Worse, when
 * aws-local-stepfunctions times a Task out it does not stop the handler (it only races it against
 * a timer), so a retry on States.Timeout would run a second copy of the same shard next to the
 * first. Every TimeoutSeconds is therefore replaced by a generous value; it is not removed, because
 * a Task without one times out after 60 s locally.
 */
const DEFAULT_LOCAL_TASK_TIMEOUT_SECONDS = 24 * 60 * 60;

/** What aws-local-stepfunctions checks of a definition: its ARNs and JSONPaths too. */
export const VALIDATION = { checkArn: true, checkPaths: true } as const;

const LAMBDA_INVOKE = /^arn:aws[\w-]*:states:::lambda:invoke(\.waitForTaskToken)?$/;
const LAMBDA_FUNCTION = /^arn:aws[\w-]*:lambda:/;

interface Retrier {
  ErrorEquals: string[];
  MaxAttempts?: number;
}
interface Catcher {
  ErrorEquals: string[];
}
interface EnclosingMap {
  name: string;
  Retry: Retrier[];
  Catch: Catcher[];
  /**
   * Every Catch of the Map leads to a Fail state (a child execution of a Distributed Map records
   * its failure, then fails): a failure it catches still fails the Maps around it.
   */
  catchEndsInFail: boolean;
}

interface TaskBinding {
  stepId: StepId;
  Retry: Retrier[];
  Catch: Catcher[];
  /** Map states enclosing the Task, outermost first. */
  enclosingMaps: EnclosingMap[];
  /** The Task is on a Catch path (it records a failure): it runs even in a failed Map. */
  handlesFailure: boolean;
  /** `arn:aws:states:::lambda:invoke`: input is {FunctionName, Payload}, output {Payload}. Else the payload itself. */
  invokeEnvelope: boolean;
}

export function createLocalStateMachine(options: LocalStateMachineOptions): LocalStateMachine {
  const definition = structuredClone(options.definition) as StateMachineDefinition;
  const bindings = bindTasks(definition, options);
  const stateMachine = new StateMachine(definition, { validationOptions: options.validated ? { noValidate: true } : VALIDATION });
  const stateMachineName = options.stateMachineName ?? 'Migration';
  const waitTimeOverrides = { ...everyState(definition, options.waitTimeOverrideMs, (state) => state.Type === 'Wait'), ...options.waitTimeOverrides };
  const retryIntervalOverrides = { ...everyState(definition, options.retryIntervalOverrideMs, (state) => Array.isArray(state.Retry)), ...options.retryIntervalOverrides };

  return {
    start(input, name = randomUUID()) {
      const executionArn = `arn:aws:states:us-east-1:000000000000:execution:${stateMachineName}:${name}`;
      const abortController = new AbortController();
      let markEnded!: () => void;
      const whenEnded = new Promise<void>((resolve) => (markEnded = resolve));
      const run: RunState = { executionArn, signal: abortController.signal, ended: false, whenEnded, failedMaps: new Set(), retryAttempts: new Map() };
      const taskResourceLocalHandlers = Object.fromEntries(
        [...bindings].map(([stateName, binding]) => [stateName, localTaskHandler(stateName, binding, options.handlers[binding.stepId], run)]),
      );
      const execution = stateMachine.run(input as any, {
        overrides: {
          taskResourceLocalHandlers,
          waitTimeOverrides,
          retryIntervalOverrides,
        },
        context: { Execution: { Id: executionArn, Name: name } },
      });
      void followEvents(execution.eventLogs, run, options.onEvent);
      return {
        executionArn,
        result: execution.result.then(
          (output): LocalExecutionResult => ({ status: 'SUCCEEDED', output }),
          (error: unknown): LocalExecutionResult => toFailedResult(error),
        ).finally(() => {
          run.ended = true;
          markEnded();
        }),
        abort() {
          abortController.abort();
          execution.abort();
        },
      };
    },
  };
}

/** What the task handlers of one execution need to know about it. */
interface RunState {
  executionArn: string;
  signal: AbortSignal;
  ended: boolean;
  /** Settles when the execution has ended. */
  whenEnded: Promise<void>;
  /**
   * Map states that have failed. When one iteration of a Map fails, AWS stops the others.
   * aws-local-stepfunctions aborts the iterations already running but, as their slots free up,
   * still starts those queued behind MaxConcurrency (measured: all 10 shards of a Map with
   * MaxConcurrency 4 started although the first failed), and its event log arrives too late to
   * stop them. So the task handlers work it out themselves, at the moment a step throws: an error
   * no Retry or Catch of its Task handles fails the enclosing Map (and the Maps around it, up to
   * one with a Catch for it). Tasks inside a failed Map then refuse to run.
   */
  failedMaps: Set<string>;
  /** Retries so far per Task invocation (state name + payload), per retrier: mirrors the runtime's count. */
  retryAttempts: Map<string, number[]>;
}

/** How Step Functions matches an error name against ErrorEquals (States.TaskFailed does not match States.Timeout). */
const errorMatches = (errorEquals: string[], name: string): boolean =>
  errorEquals.includes(name) || errorEquals.includes('States.ALL') || (errorEquals.includes('States.TaskFailed') && name !== 'States.Timeout');

/** Whether the runtime will retry this failure, counting the attempt as the runtime does (first matching retrier decides). */
function willRetry(binding: TaskBinding, errorName: string, run: RunState, invocationKey: string): boolean {
  const index = binding.Retry.findIndex((retrier) => errorMatches(retrier.ErrorEquals, errorName));
  const attempts = run.retryAttempts.get(invocationKey) ?? binding.Retry.map(() => 0);
  if (index === -1 || attempts[index]! >= (binding.Retry[index]!.MaxAttempts ?? 3)) {
    run.retryAttempts.delete(invocationKey);
    return false;
  }
  attempts[index]!++;
  run.retryAttempts.set(invocationKey, attempts);
  return true;
}

/** Marks the Maps an unhandled Task failure fails: from the innermost out, up to one that catches it. */
function failEnclosingMaps(binding: TaskBinding, errorName: string, run: RunState): void {
  for (const map of [...binding.enclosingMaps].reverse()) {
    // A Map that will be retried runs its iterations again: do not cancel them.
    if (map.Retry.some((retrier) => errorMatches(retrier.ErrorEquals, errorName))) return;
    run.failedMaps.add(map.name);
    if (map.Catch.some((catcher) => errorMatches(catcher.ErrorEquals, errorName)) && !map.catchEndsInFail) return;
  }
}

async function followEvents(events: AsyncGenerator<any>, run: RunState, onEvent?: (event: LocalExecutionEvent) => void): Promise<void> {
  for await (const event of events) {
    // A failed Map entered again (a loop back to it) runs its iterations: best effort, since events arrive late.
    if (event.state?.type === 'Map' && event.type === 'StateEntered') run.failedMaps.delete(event.state.name);
    if (!onEvent) continue;
    try {
      onEvent({ ...event, executionArn: run.executionArn });
    } catch {
      // A failing observer must not affect the execution.
    }
  }
}

/** `value` for every state (nested ones included) that matches, or nothing when value is undefined. */
function everyState(definition: StateMachineDefinition, value: number | undefined, matches: (state: any) => boolean): Record<string, number> {
  const found: Record<string, number> = {};
  if (value === undefined) return found;
  const visit = (machine: { States: Record<string, any> }) => {
    for (const [stateName, state] of Object.entries(machine.States)) {
      if (matches(state)) found[stateName] = value;
      if (state.Type === 'Map') visit(state.ItemProcessor ?? state.Iterator);
      if (state.Type === 'Parallel') for (const branch of state.Branches) visit(branch);
    }
  };
  visit(definition);
  return found;
}

/** Finds every Task (nested Map and Parallel states included), binds it to a step and sets its local timeout. */
function bindTasks(definition: StateMachineDefinition, options: LocalStateMachineOptions): Map<string, TaskBinding> {
  const bindings = new Map<string, TaskBinding>();
  const seen = new Set<string>();
  const visit = (machine: { States: Record<string, any> }, enclosingMaps: EnclosingMap[]) => {
    const failureHandlers = catchPaths(machine);
    for (const [stateName, state] of Object.entries(machine.States)) {
      // taskResourceLocalHandlers is keyed by state name, so names must be unique across nesting levels.
      if (seen.has(stateName)) throw new Error(`state name ${stateName} is used twice; local handlers are keyed by state name`);
      seen.add(stateName);
      if (state.Type === 'Map') {
        const catchEndsInFail = (state.Catch ?? []).length > 0 && (state.Catch as Array<{ Next: string }>).every((catcher) => endsInFail(machine, catcher.Next));
        visit(state.ItemProcessor ?? state.Iterator, [...enclosingMaps, { name: stateName, Retry: state.Retry ?? [], Catch: state.Catch ?? [], catchEndsInFail }]);
      }
      if (state.Type === 'Parallel') for (const branch of state.Branches) visit(branch, enclosingMaps);
      if (state.Type !== 'Task') continue;

      const resource: string = state.Resource;
      let functionArn: unknown;
      let invokeEnvelope: boolean;
      if (LAMBDA_INVOKE.test(resource)) {
        functionArn = state.Parameters?.FunctionName;
        invokeEnvelope = true;
      } else if (LAMBDA_FUNCTION.test(resource)) {
        functionArn = resource;
        invokeEnvelope = false;
      } else {
        throw new Error(`Task ${stateName} calls ${resource}; only Lambda tasks run locally`);
      }
      const fn = typeof functionArn === 'string' ? options.functions[functionArn] : undefined;
      if (!fn) throw new Error(`Task ${stateName} calls ${String(functionArn)}, which is not a step function`);
      if (typeof options.handlers[fn.stepId] !== 'function') throw new Error(`no local handler for step ${fn.stepId} (Task ${stateName})`);
      bindings.set(stateName, { stepId: fn.stepId, Retry: state.Retry ?? [], Catch: state.Catch ?? [], enclosingMaps, invokeEnvelope, handlesFailure: failureHandlers.has(stateName) });

      delete state.TimeoutSecondsPath;
      state.TimeoutSeconds = options.taskTimeoutSeconds ?? DEFAULT_LOCAL_TASK_TIMEOUT_SECONDS;
    }
  };
  visit(definition, []);
  return bindings;
}

/** The states a Catch of this machine (not of nested ones) leads to, following Next. */
function catchPaths(machine: { States: Record<string, any> }): Set<string> {
  const found = new Set<string>();
  for (const state of Object.values(machine.States)) {
    for (const catcher of state.Catch ?? []) {
      for (let name: string | undefined = catcher.Next; name && !found.has(name); name = machine.States[name]?.Next) found.add(name);
    }
  }
  return found;
}

/** Whether the path from `name` (following Next, no Choice) ends in a Fail state. */
function endsInFail(machine: { States: Record<string, any> }, name: string): boolean {
  const seen = new Set<string>();
  for (let current: string | undefined = name; current && !seen.has(current); current = machine.States[current]?.Next) {
    seen.add(current);
    if (machine.States[current]?.Type === 'Fail') return true;
  }
  return false;
}

const MAP_ITERATION_CANCELLED = 'MapIterationCancelled';

/** The error a Task reports: Step Functions matches Retry and Catch on its name, Cause is its message. */
class LocalTaskError extends Error {
  constructor(name: string, message: string) {
    // No `cause`: aws-local-stepfunctions reports `error.cause ?? error.message` as the Cause of its
    // StateFailed and ExecutionFailed events, which must stay a string.
    super(message);
    this.name = name;
  }
}

function localTaskHandler(stateName: string, binding: TaskBinding, handler: LocalStepHandler, run: RunState) {
  return async (input: any): Promise<any> => {
    // After an abort aws-local-stepfunctions may still start a pending retry or Map iteration; do not run the step.
    if (run.signal.aborted || run.ended) throw new LocalTaskError('ExecutionAborted', `execution ${run.executionArn} has ended`);
    const failedMap = binding.enclosingMaps.find((map) => run.failedMaps.has(map.name));
    if (failedMap && !binding.handlesFailure) throw new LocalTaskError(MAP_ITERATION_CANCELLED, `${failedMap.name} has failed; ${stateName} does not run`);
    // On AWS an iteration of a failed Distributed Map is stopped, not failed: it records nothing, and
    // must not fail the Map before the iteration that did fail. It waits here until the runtime
    // drops it (the Map's failure aborts it) or the execution ends.
    if (binding.handlesFailure && (binding.invokeEnvelope ? input?.Payload : input)?.error?.Error === MAP_ITERATION_CANCELLED) {
      await Promise.race([run.whenEnded, new Promise((resolve) => run.signal.addEventListener('abort', resolve, { once: true }))]);
      return binding.invokeEnvelope ? { Payload: null } : null;
    }
    // JSON round trips stand in for the Lambda boundary: what cannot be serialized fails here as it would on AWS.
    const payload = roundTrip(binding.invokeEnvelope ? input?.Payload : input);
    const invocationKey = `${stateName}\u0000${JSON.stringify(payload)}`;
    let output: unknown;
    try {
      output = await handler(payload, { stateName, stepId: binding.stepId, executionArn: run.executionArn, signal: run.signal });
    } catch (error) {
      // aws-local-stepfunctions reports a thrown error as {Error: error.name, Cause: error.message}, and
      // Retry/Catch compare error.name, as AWS does with a Lambda's errorType. Normalize anything thrown
      // into a plain Error with those two fields, so a non-Error or an error carrying the library's own
      // retryable/catchable flags behaves like a Lambda failure.
      const failure = error instanceof Error ? new LocalTaskError(error.name || 'Error', error.message) : new LocalTaskError('Error', String(error));
      if (!willRetry(binding, failure.name, run, invocationKey) && !errorMatches(binding.Catch.flatMap((catcher) => catcher.ErrorEquals), failure.name)) {
        failEnclosingMaps(binding, failure.name, run);
      }
      throw failure;
    }
    run.retryAttempts.delete(invocationKey);
    const result = roundTrip(output === undefined ? null : output);
    return binding.invokeEnvelope ? { Payload: result } : result;
  };
}

const roundTrip = (value: unknown): any => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

function toFailedResult(error: unknown): LocalExecutionResult {
  if (error instanceof ExecutionAbortedError) return { status: 'ABORTED' };
  if (error instanceof ExecutionTimeoutError) return { status: 'FAILED', error: { Error: 'States.Timeout', Cause: error.message } };
  // ExecutionError wraps the error that ended the execution: a Fail state (Error/Cause of the state)
  // or an error no Catch handled.
  const cause = error instanceof ExecutionError ? error.cause : error;
  if (cause instanceof Error) return { status: 'FAILED', error: { Error: cause.name, Cause: cause.message } };
  return { status: 'FAILED', error: { Error: 'Error', Cause: String(cause) } };
}
