import { App } from 'aws-cdk-lib';
import { STEP_IDS, type StepId } from '../lib/workflow/steps';
import { MIGRATION_STACK_ID, MigrationStack } from './migrationStack';

/** A synthesized CloudFormation template, as JSON. */
export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
  Outputs?: Record<string, unknown>;
  [section: string]: unknown;
}

/** What the local runtime needs to run a synthesized state machine. */
export interface LocalStateMachineDefinition {
  /** The ASL definition with every function ARN token resolved to a placeholder ARN. */
  definition: Record<string, any>;
  /** Placeholder function ARN -> the function's logical id and the step id in its STEP_ID environment variable. */
  functions: Record<string, { logicalId: string; stepId: StepId }>;
}

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
export const localFunctionArn = (logicalId: string): string => `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;

/**
 * Synthesizes MigrationStack in process, without bundling any asset (context
 * aws:cdk:bundling-stacks = []) and without the built-in CloudFormation validation: tens of
 * milliseconds instead of seconds.
 */
export function synthesizeTemplate(): CfnTemplate {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new MigrationStack(app, MIGRATION_STACK_ID);
  return app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
}

/**
 * The definition of the state machine whose logical id contains `logicalIdIncludes`, with its
 * tokens resolved, and the step functions it may call.
 */
export function stateMachineDefinition(template: CfnTemplate, logicalIdIncludes = 'Migration'): LocalStateMachineDefinition {
  const machines = Object.entries(template.Resources).filter(
    ([logicalId, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine' && logicalId.includes(logicalIdIncludes),
  );
  if (machines.length !== 1) {
    throw new Error(`expected one state machine matching "${logicalIdIncludes}", found ${machines.map(([id]) => id).join(', ') || 'none'}`);
  }
  const [, machine] = machines[0]!;
  const definitionString = resolveTokens(template, machine.Properties?.DefinitionString);
  if (typeof definitionString !== 'string') throw new Error('DefinitionString did not resolve to a string');

  const functions: LocalStateMachineDefinition['functions'] = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const stepId = resource.Properties?.Environment?.Variables?.STEP_ID;
    if (stepId === undefined) continue;
    if (!(STEP_IDS as readonly string[]).includes(stepId)) throw new Error(`function ${logicalId} has unknown STEP_ID ${stepId}`);
    functions[localFunctionArn(logicalId)] = { logicalId, stepId };
  }
  return { definition: JSON.parse(definitionString), functions };
}

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Resolves the intrinsic functions a definition string uses: Fn::Join, Fn::GetAtt [id, Arn], Ref. */
function resolveTokens(template: CfnTemplate, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => resolveTokens(template, item));
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [[key, argument]] = entries as [[string, any]];
    if (key === 'Fn::Join') {
      const [separator, parts] = argument as [string, unknown[]];
      return parts.map((part) => resolveTokens(template, part)).join(separator);
    }
    if (key === 'Fn::GetAtt') {
      const [logicalId, attribute] = argument as [string, string];
      if (attribute !== 'Arn') throw new Error(`cannot resolve Fn::GetAtt ${logicalId}.${attribute} locally`);
      return resourceArn(template, logicalId);
    }
    if (key === 'Ref') {
      const name = argument as string;
      return PSEUDO_PARAMETERS[name] ?? resourceArn(template, name);
    }
    if (key.startsWith('Fn::')) throw new Error(`cannot resolve ${key} locally`);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveTokens(template, item)]));
}

function resourceArn(template: CfnTemplate, logicalId: string): string {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`the definition refers to ${logicalId}, which is not in the template`);
  if (resource.Type !== 'AWS::Lambda::Function') throw new Error(`the definition refers to ${logicalId} (${resource.Type}); only Lambda functions run locally`);
  return localFunctionArn(logicalId);
}
