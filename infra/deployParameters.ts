import { Duration } from 'aws-cdk-lib';
import type { MigrationNetworkProps } from './migrationNetwork';

/**
 * The deploy parameters: CDK context values (`cdk deploy -c key=value`, or cdk.json), read into
 * MigrationStack props. Kept apart from app.ts so the parsing is tested without an app.
 *
 *   alertEmails=ops@example.com,dba@example.com   email subscriptions of the alert topic
 *   lagAlarmSeconds=60 lagAlarmMinutes=30          the alarm on a sync lag that stays high
 *   vpcId=vpc-... subnetIds=subnet-a,subnet-b      run the functions that connect to Milvus in that VPC
 *   securityGroupIds=sg-...                        their security groups (default: one created, all egress)
 *   vpcEndpoints=true routeTableIds=rtb-...        VPC endpoints for the AWS services, instead of a NAT route
 */
export interface DeployParameters {
  alertEmails: string[];
  lagAlarmThreshold?: Duration;
  lagAlarmDuration?: Duration;
  network?: MigrationNetworkProps;
}

/** Reads one context value (app.node.tryGetContext). Values from cdk.json may be numbers, booleans or lists. */
export type ContextReader = (key: string) => unknown;

/** Keys that only mean something with vpcId. */
const NETWORK_KEYS = ['subnetIds', 'securityGroupIds', 'vpcEndpoints', 'routeTableIds'] as const;

// Lambda's VpcConfig limits.
const MAX_SUBNETS = 16;
const MAX_SECURITY_GROUPS = 5;

/** EC2 ids: a prefix and 8 (older resources) or 17 hexadecimal digits. */
const ec2Id = (prefix: string): RegExp => new RegExp(`^${prefix}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`);

/** Parses every deploy parameter; throws one error naming every bad value. */
export function parseDeployParameters(read: ContextReader): DeployParameters {
  const problems: string[] = [];
  const text = (key: string): string | undefined => {
    const value = read(key);
    // String() of a cdk.json list gives "a,b", the same as the command line form.
    return value === undefined || value === null || String(value).trim() === '' ? undefined : String(value).trim();
  };
  const list = (key: string): string[] | undefined => {
    const value = text(key);
    return value === undefined ? undefined : value.split(',').map((item) => item.trim()).filter(Boolean);
  };
  const positive = (key: string): number | undefined => {
    const value = text(key);
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0) {
      problems.push(`context ${key} must be a whole number above 0, got ${value}`);
      return undefined;
    }
    return number;
  };
  const malformed = (key: string, prefix: string, values: string[]): void => {
    const bad = values.filter((value) => !ec2Id(prefix).test(value));
    if (bad.length > 0) problems.push(`context ${key}: ${bad.join(', ')} ${bad.length > 1 ? 'are not' : 'is not'} ${prefix}-<8 or 17 hex digits>`);
  };
  /** A comma separated list of EC2 ids: well formed, each once, at most `lambdaLimit` when Lambda has one. */
  const ids = (key: string, prefix: string, lambdaLimit?: number): string[] | undefined => {
    const values = list(key);
    if (values === undefined) return undefined;
    if (values.length === 0) problems.push(`context ${key} lists no id`);
    malformed(key, prefix, values);
    const duplicates = values.filter((value, index) => values.indexOf(value) !== index);
    if (duplicates.length > 0) problems.push(`context ${key} names ${[...new Set(duplicates)].join(', ')} more than once`);
    if (lambdaLimit !== undefined && values.length > lambdaLimit) problems.push(`context ${key} has ${values.length} ids; Lambda takes at most ${lambdaLimit}`);
    return values;
  };

  const alertEmails = list('alertEmails') ?? [];
  const lagAlarmSeconds = positive('lagAlarmSeconds');
  const lagAlarmMinutes = positive('lagAlarmMinutes');
  const network = parseNetwork();
  if (problems.length > 0) throw new Error(`invalid deploy parameters (cdk -c key=value):\n- ${problems.join('\n- ')}`);
  return {
    alertEmails,
    ...(lagAlarmSeconds ? { lagAlarmThreshold: Duration.seconds(lagAlarmSeconds) } : {}),
    ...(lagAlarmMinutes ? { lagAlarmDuration: Duration.minutes(lagAlarmMinutes) } : {}),
    ...(network ? { network } : {}),
  };

  function parseNetwork(): MigrationNetworkProps | undefined {
    const vpcId = text('vpcId');
    if (vpcId === undefined) {
      for (const key of NETWORK_KEYS) {
        if (text(key) !== undefined) problems.push(`context ${key} needs vpcId: it describes the VPC the functions run in`);
      }
      return undefined;
    }
    malformed('vpcId', 'vpc', [vpcId]);
    const subnetIds = ids('subnetIds', 'subnet', MAX_SUBNETS);
    const securityGroupIds = ids('securityGroupIds', 'sg', MAX_SECURITY_GROUPS);
    const routeTableIds = ids('routeTableIds', 'rtb');
    if (subnetIds === undefined) {
      problems.push('context vpcId needs subnetIds: the subnets the functions run in, e.g. -c subnetIds=subnet-0a1b2c3d,subnet-4e5f6a7b');
    }
    const endpointsText = text('vpcEndpoints');
    if (endpointsText !== undefined && endpointsText !== 'true' && endpointsText !== 'false') {
      problems.push(`context vpcEndpoints must be true or false, got ${endpointsText}`);
    }
    const endpoints = endpointsText === 'true';
    if (endpoints && routeTableIds === undefined) {
      problems.push('context vpcEndpoints=true needs routeTableIds: the route tables of the subnets, where the DynamoDB gateway endpoint adds its route');
    }
    if (!endpoints && routeTableIds !== undefined) problems.push('context routeTableIds is used only with vpcEndpoints=true');
    return {
      vpcId,
      subnetIds: subnetIds ?? [],
      ...(securityGroupIds ? { securityGroupIds } : {}),
      ...(endpoints ? { endpoints: { routeTableIds: routeTableIds ?? [] } } : {}),
    };
  }
}
