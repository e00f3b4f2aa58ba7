import { createHash } from 'node:crypto';
import type { TemplateResource } from './template';

/**
 * The physical identity CloudFormation would give a resource: what Ref returns and the attributes
 * Fn::GetAtt can read. Generated names follow CloudFormation's shape (<stack>-<logicalId>-<SUFFIX>)
 * but are derived from the logical id, so every run of the same template gets the same names.
 */
export interface PhysicalIdentity {
  ref: string;
  attributes: Record<string, string>;
}

export interface IdentityEnvironment {
  region: string;
  account: string;
  stackName: string;
  /** The table name the local runtime created in DynamoDB Local (one table in our template). */
  tableName?: string;
  /** A name property that is itself an intrinsic, resolved by the account. */
  resolveName(value: unknown): string;
}

/** A deterministic string of `length` characters from `alphabet`, derived from `seed`. */
export function derived(seed: string, length: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'): string {
  const bytes = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; out.length < length; i++) out += alphabet[bytes[i % bytes.length]! % alphabet.length];
  return out;
}

const uuidFrom = (seed: string): string => {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

export function physicalIdentity(logicalId: string, resource: TemplateResource, env: IdentityEnvironment): PhysicalIdentity {
  const { region, account } = env;
  const props = resource.Properties ?? {};
  const generated = (maxLength = 128): string => {
    const suffix = derived(`${env.stackName}/${logicalId}`, 12);
    return `${`${env.stackName}-${logicalId}`.slice(0, maxLength - suffix.length - 1)}-${suffix}`;
  };
  /** The name the template gives in `property`, else one CloudFormation-style. */
  const named = (property: string, maxLength = 128): string => {
    const given = props[property];
    if (given === undefined) return generated(maxLength);
    return typeof given === 'string' ? given : env.resolveName(given);
  };
  const shortId = (length = 10): string => derived(`${env.stackName}/${logicalId}`, length, 'abcdefghijklmnopqrstuvwxyz0123456789');

  switch (resource.Type) {
    case 'AWS::DynamoDB::Table': {
      const name = env.tableName ?? named('TableName', 255);
      const arn = `arn:aws:dynamodb:${region}:${account}:table/${name}`;
      return { ref: name, attributes: { Arn: arn, StreamArn: `${arn}/stream/1970-01-01T00:00:00.000` } };
    }
    case 'AWS::KMS::Key': {
      const keyId = uuidFrom(`${env.stackName}/${logicalId}`);
      return { ref: keyId, attributes: { Arn: `arn:aws:kms:${region}:${account}:key/${keyId}`, KeyId: keyId } };
    }
    case 'AWS::KMS::Alias':
      return { ref: named('AliasName'), attributes: {} };
    case 'AWS::StepFunctions::StateMachine': {
      const name = props.StateMachineName !== undefined ? named('StateMachineName') : `${logicalId}-${derived(logicalId, 12, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}`;
      const arn = `arn:aws:states:${region}:${account}:stateMachine:${name}`;
      return { ref: arn, attributes: { Arn: arn, Name: name, StateMachineRevisionId: arn } };
    }
    case 'AWS::Lambda::Function': {
      // Function name = logical id, so ARNs agree with infra/synth.ts localFunctionArn().
      const name = props.FunctionName !== undefined ? named('FunctionName', 64) : logicalId;
      return { ref: name, attributes: { Arn: `arn:aws:lambda:${region}:${account}:function:${name}` } };
    }
    case 'AWS::IAM::Role': {
      const name = named('RoleName', 64);
      const path = typeof props.Path === 'string' ? props.Path : '/';
      return { ref: name, attributes: { Arn: `arn:aws:iam::${account}:role${path}${name}`, RoleId: `AROA${derived(logicalId, 17)}` } };
    }
    case 'AWS::IAM::ManagedPolicy': {
      const arn = `arn:aws:iam::${account}:policy/${named('ManagedPolicyName')}`;
      return { ref: arn, attributes: { PolicyArn: arn } };
    }
    case 'AWS::Logs::LogGroup': {
      const name = named('LogGroupName', 512);
      return { ref: name, attributes: { Arn: `arn:aws:logs:${region}:${account}:log-group:${name}:*` } };
    }
    case 'AWS::SNS::Topic': {
      const name = named('TopicName', 256);
      const arn = `arn:aws:sns:${region}:${account}:${name}`;
      return { ref: arn, attributes: { TopicArn: arn, TopicName: name } };
    }
    case 'AWS::SNS::Subscription':
      return { ref: `arn:aws:sns:${region}:${account}:subscription:${uuidFrom(logicalId)}`, attributes: {} };
    case 'AWS::Events::EventBus': {
      const name = named('Name', 256);
      const arn = `arn:aws:events:${region}:${account}:event-bus/${name}`;
      return { ref: name, attributes: { Arn: arn, Name: name } };
    }
    case 'AWS::Events::Rule': {
      const name = named('Name', 64);
      return { ref: name, attributes: { Arn: `arn:aws:events:${region}:${account}:rule/${name}` } };
    }
    case 'AWS::ApiGateway::RestApi':
      return { ref: shortId(), attributes: { RestApiId: shortId(), RootResourceId: derived(`${logicalId}/root`, 10, 'abcdefghijklmnopqrstuvwxyz0123456789') } };
    case 'AWS::ApiGateway::Resource':
      return { ref: shortId(6), attributes: { ResourceId: shortId(6) } };
    case 'AWS::ApiGateway::Deployment':
      return { ref: shortId(6), attributes: { DeploymentId: shortId(6) } };
    case 'AWS::ApiGateway::Stage':
      return { ref: named('StageName'), attributes: {} };
    case 'AWS::ApiGateway::Model':
      return { ref: named('Name'), attributes: {} };
    case 'AWS::CloudWatch::Alarm': {
      const name = named('AlarmName', 255);
      return { ref: name, attributes: { Arn: `arn:aws:cloudwatch:${region}:${account}:alarm:${name}` } };
    }
    case 'AWS::CloudWatch::Dashboard':
      return { ref: named('DashboardName'), attributes: {} };
    default:
      // IAM::Policy, Lambda::Permission, SNS::TopicPolicy, ApiGateway::Method... : Ref is an opaque id.
      return { ref: generated(), attributes: {} };
  }
}
