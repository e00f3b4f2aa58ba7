import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeployParameters } from '../../infra/deployParameters';
import { CONNECTING_STEPS, VPC_STEPS } from '../../infra/migrationFunctions';
import type { MigrationNetworkProps } from '../../infra/migrationNetwork';
import { MIGRATION_STACK_ID, MigrationStack } from '../../infra/migrationStack';
import type { CfnTemplate } from '../../infra/synth';
import { STEP_IDS } from '../../lib/workflow/steps';

/** Clusters in private networks: the deploy parameters, and the two shapes of the template. */

const VPC = 'vpc-0a1b2c3d4e5f60718';
const SUBNETS = ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'];
const GROUPS = ['sg-0a1b2c3d', 'sg-4e5f6a7b8c9d0e1f2'];
const ROUTE_TABLES = ['rtb-0a1b2c3d'];

function synth(network?: MigrationNetworkProps): CfnTemplate {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new MigrationStack(app, MIGRATION_STACK_ID, network ? { network } : {});
  return app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
}

const resourcesOf = (template: CfnTemplate, type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
const functionsOf = (template: CfnTemplate) => resourcesOf(template, 'AWS::Lambda::Function');
/** The function's step id, or 'api' for the API function. */
const nameOf = (fn: CfnTemplate['Resources'][string]): string => fn.Properties?.Environment?.Variables?.STEP_ID ?? 'api';

/** Every action the policies attached to a function's role allow, with the statement's resource. */
function statementsOf(template: CfnTemplate, functionId: string): Array<{ Action: string | string[]; Resource: unknown }> {
  const roleId = template.Resources[functionId]!.Properties!.Role['Fn::GetAtt'][0];
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties!.Roles as Array<{ Ref: string }>).some((role) => role.Ref === roleId))
    .flatMap(([, p]) => p.Properties!.PolicyDocument.Statement);
}
const actionsOf = (template: CfnTemplate, functionId: string) => statementsOf(template, functionId).flatMap((s) => [s.Action].flat());

const ENI_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];

describe('deploy parameters (CDK context)', () => {
  const parse = (context: Record<string, unknown>) => parseDeployParameters((key) => context[key]);
  const failure = (context: Record<string, unknown>): string => {
    try {
      parse(context);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error(`parsing ${JSON.stringify(context)} did not fail`);
  };

  it('gives no network without vpcId, and still reads the other parameters', () => {
    expect(parse({})).toEqual({ alertEmails: [] });
    const parameters = parse({ alertEmails: 'ops@example.com, dba@example.com', lagAlarmSeconds: '90', lagAlarmMinutes: 10 });
    expect(parameters.alertEmails).toEqual(['ops@example.com', 'dba@example.com']);
    expect(parameters.lagAlarmThreshold?.toSeconds()).toBe(90);
    expect(parameters.lagAlarmDuration?.toMinutes()).toBe(10);
    expect(parameters.network).toBeUndefined();
  });

  it('reads the network from command line strings', () => {
    expect(
      parse({ vpcId: VPC, subnetIds: SUBNETS.join(','), securityGroupIds: ` ${GROUPS.join(' , ')} `, vpcEndpoints: 'true', routeTableIds: ROUTE_TABLES.join(',') }).network,
    ).toEqual({ vpcId: VPC, subnetIds: SUBNETS, securityGroupIds: GROUPS, endpoints: { routeTableIds: ROUTE_TABLES } });
    // No security group: the stack creates one. vpcEndpoints=false: no endpoints.
    expect(parse({ vpcId: VPC, subnetIds: SUBNETS[0], vpcEndpoints: 'false' }).network).toEqual({ vpcId: VPC, subnetIds: [SUBNETS[0]] });
  });

  it('reads lists and booleans as cdk.json gives them', () => {
    expect(parse({ vpcId: VPC, subnetIds: SUBNETS, vpcEndpoints: true, routeTableIds: ROUTE_TABLES }).network).toEqual({
      vpcId: VPC,
      subnetIds: SUBNETS,
      endpoints: { routeTableIds: ROUTE_TABLES },
    });
  });

  it.each([
    [{ subnetIds: SUBNETS.join(',') }, 'context subnetIds needs vpcId'],
    [{ securityGroupIds: GROUPS[0] }, 'context securityGroupIds needs vpcId'],
    [{ vpcEndpoints: 'true' }, 'context vpcEndpoints needs vpcId'],
    [{ vpcId: VPC }, 'context vpcId needs subnetIds'],
    [{ vpcId: 'vpc-xyz', subnetIds: SUBNETS[0] }, 'context vpcId: vpc-xyz is not vpc-<8 or 17 hex digits>'],
    [{ vpcId: VPC, subnetIds: `${SUBNETS[0]},sg-0a1b2c3d` }, 'context subnetIds: sg-0a1b2c3d is not subnet-<8 or 17 hex digits>'],
    [{ vpcId: VPC, subnetIds: SUBNETS[0], securityGroupIds: 'default' }, 'context securityGroupIds: default is not sg-<8 or 17 hex digits>'],
    [{ vpcId: VPC, subnetIds: ',' }, 'context subnetIds lists no id'],
    [{ vpcId: VPC, subnetIds: `${SUBNETS[0]},${SUBNETS[0]}` }, `context subnetIds names ${SUBNETS[0]} more than once`],
    [{ vpcId: VPC, subnetIds: SUBNETS[0], securityGroupIds: ['sg-00000001', 'sg-00000002', 'sg-00000003', 'sg-00000004', 'sg-00000005', 'sg-00000006'] }, 'context securityGroupIds has 6 ids; Lambda takes at most 5'],
    [{ vpcId: VPC, subnetIds: SUBNETS[0], vpcEndpoints: 'yes' }, 'context vpcEndpoints must be true or false, got yes'],
    [{ vpcId: VPC, subnetIds: SUBNETS[0], vpcEndpoints: 'true' }, 'context vpcEndpoints=true needs routeTableIds'],
    [{ vpcId: VPC, subnetIds: SUBNETS[0], routeTableIds: ROUTE_TABLES[0] }, 'context routeTableIds is used only with vpcEndpoints=true'],
    [{ lagAlarmSeconds: '0' }, 'context lagAlarmSeconds must be a whole number above 0, got 0'],
  ])('refuses %j', (context, message) => {
    expect(failure(context)).toContain(message);
  });

  it('names every bad value in one error', () => {
    const message = failure({ vpcId: 'vpc-1', subnetIds: 'subnet-2', lagAlarmMinutes: 'soon' });
    expect(message.split('\n')).toEqual([
      'invalid deploy parameters (cdk -c key=value):',
      '- context lagAlarmMinutes must be a whole number above 0, got soon',
      '- context vpcId: vpc-1 is not vpc-<8 or 17 hex digits>',
      '- context subnetIds: subnet-2 is not subnet-<8 or 17 hex digits>',
    ]);
  });

  it('fails the synth of the CDK app (infra/app.ts) with that message', async () => {
    const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
    const outdir = mkdtempSync(join(tmpdir(), 'milvus-migrate-cdk-out-'));
    try {
      const run = promisify(execFile)(join(repoRoot, 'node_modules/.bin/tsx'), ['infra/app.ts'], {
        cwd: repoRoot,
        // How the CDK CLI hands `-c key=value` and the output directory to the app. Bundling off,
        // so that an app that ignored the parameters would synthesize quickly and fail this test.
        env: {
          ...process.env,
          CDK_CONTEXT_JSON: JSON.stringify({ subnetIds: SUBNETS.join(','), 'aws:cdk:bundling-stacks': [] }),
          CDK_OUTDIR: outdir,
        },
        timeout: 30_000,
      });
      await expect(run).rejects.toMatchObject({ stderr: expect.stringContaining('context subnetIds needs vpcId') });
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('the template without a VPC', () => {
  let template: CfnTemplate;
  beforeAll(() => {
    template = synth();
  });

  it('puts no function in a VPC and creates no network resource', () => {
    expect(functionsOf(template)).toHaveLength(STEP_IDS.length + 1);
    for (const [id, fn] of functionsOf(template)) expect(fn.Properties!.VpcConfig, id).toBeUndefined();
    expect(Object.values(template.Resources).filter((r) => r.Type.startsWith('AWS::EC2::'))).toEqual([]);
  });

  it('grants no network interface action', () => {
    for (const [id] of functionsOf(template)) expect(actionsOf(template, id).filter((a) => a.startsWith('ec2:')), id).toEqual([]);
  });
});

describe('the template with a VPC', () => {
  let plain: CfnTemplate;
  let created: CfnTemplate;
  let given: CfnTemplate;
  let withEndpoints: CfnTemplate;
  beforeAll(() => {
    plain = synth();
    created = synth({ vpcId: VPC, subnetIds: SUBNETS });
    given = synth({ vpcId: VPC, subnetIds: SUBNETS, securityGroupIds: GROUPS });
    withEndpoints = synth({ vpcId: VPC, subnetIds: SUBNETS, securityGroupIds: GROUPS, endpoints: { routeTableIds: ROUTE_TABLES } });
  });

  it('places every function that connects to Milvus, the API included, and no other', () => {
    expect(VPC_STEPS).toEqual(CONNECTING_STEPS);
    const inVpc = functionsOf(given)
      .filter(([, fn]) => fn.Properties!.VpcConfig !== undefined)
      .map(([, fn]) => nameOf(fn))
      .sort();
    expect(inVpc).toEqual([...CONNECTING_STEPS, 'api'].sort());
    for (const [id, fn] of functionsOf(given)) {
      if (fn.Properties!.VpcConfig) expect(fn.Properties!.VpcConfig, id).toEqual({ SubnetIds: SUBNETS, SecurityGroupIds: GROUPS });
    }
  });

  it('creates one security group, all egress and no ingress, when none is given', () => {
    const groups = resourcesOf(created, 'AWS::EC2::SecurityGroup');
    expect(groups).toHaveLength(1);
    const [groupId, group] = groups[0]!;
    expect(group.Properties!.VpcId).toBe(VPC);
    expect(group.Properties!.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: '-1' })]);
    expect(group.Properties!.SecurityGroupIngress).toBeUndefined();
    expect(resourcesOf(created, 'AWS::EC2::SecurityGroupIngress')).toEqual([]);
    const connecting = functionsOf(created).filter(([, fn]) => fn.Properties!.VpcConfig !== undefined);
    expect(connecting).toHaveLength(CONNECTING_STEPS.length + 1);
    for (const [id, fn] of connecting) {
      expect(fn.Properties!.VpcConfig, id).toEqual({ SubnetIds: SUBNETS, SecurityGroupIds: [{ 'Fn::GetAtt': [groupId, 'GroupId'] }] });
    }
  });

  it('changes nothing in the given security groups and creates none', () => {
    expect(Object.values(given.Resources).filter((r) => r.Type.startsWith('AWS::EC2::'))).toEqual([]);
  });

  it('grants the network interface actions to the functions in the VPC, and only to them', () => {
    for (const [id, fn] of functionsOf(given)) {
      const actions = actionsOf(given, id);
      if (fn.Properties!.VpcConfig) expect(actions, id).toEqual(expect.arrayContaining(ENI_ACTIONS));
      else expect(actions.filter((a) => a.startsWith('ec2:')), id).toEqual([]);
    }
    const [apiId] = functionsOf(given).find(([, fn]) => nameOf(fn) === 'api')!;
    const create = statementsOf(given, apiId).find((s) => [s.Action].flat().includes('ec2:CreateNetworkInterface'))!;
    // This account and region, not "*".
    expect(JSON.stringify(create.Resource)).toMatch(/:ec2:.*AWS::Region.*AWS::AccountId.*:\*\/\*/);
  });

  it('leaves every function otherwise as it was: environment, role, sizing', () => {
    const strip = (template: CfnTemplate) =>
      Object.fromEntries(
        functionsOf(template).map(([id, fn]) => {
          const { VpcConfig: _placement, ...rest } = fn.Properties!;
          return [id, { ...fn, Properties: rest }];
        }),
      );
    expect(strip(withEndpoints)).toEqual(strip(plain));
    expect(strip(created)).toEqual(strip(plain));
  });

  it('creates no VPC endpoint unless asked', () => {
    expect(resourcesOf(created, 'AWS::EC2::VPCEndpoint')).toEqual([]);
    expect(resourcesOf(given, 'AWS::EC2::VPCEndpoint')).toEqual([]);
  });

  it('with endpoints: a DynamoDB gateway endpoint and interface endpoints with private DNS for the other services', () => {
    const endpoints = resourcesOf(withEndpoints, 'AWS::EC2::VPCEndpoint').map(([, r]) => r.Properties!);
    const service = (e: Record<string, any>): string => (e.ServiceName['Fn::Join'][1] as unknown[]).at(-1) as string;
    const gateways = endpoints.filter((e) => e.VpcEndpointType === 'Gateway');
    expect(gateways).toEqual([expect.objectContaining({ VpcId: VPC, RouteTableIds: ROUTE_TABLES })]);
    expect(service(gateways[0]!)).toBe('.dynamodb');

    const interfaces = endpoints.filter((e) => e.VpcEndpointType === 'Interface');
    expect(interfaces.map(service).sort()).toEqual(['.events', '.kms', '.logs', '.secretsmanager', '.states', '.xray']);
    const [endpointGroupId, endpointGroup] = resourcesOf(withEndpoints, 'AWS::EC2::SecurityGroup')[0]!;
    for (const e of interfaces) {
      expect(e, service(e)).toMatchObject({ VpcId: VPC, SubnetIds: SUBNETS, PrivateDnsEnabled: true, SecurityGroupIds: [{ 'Fn::GetAtt': [endpointGroupId, 'GroupId'] }] });
    }
    // HTTPS from each of the functions' security groups, nothing else.
    expect(endpointGroup.Properties!.SecurityGroupIngress).toEqual(
      GROUPS.map((group) => expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, SourceSecurityGroupId: group })),
    );
  });

  it('with endpoints and a created security group: the endpoints accept HTTPS from it', () => {
    const template = synth({ vpcId: VPC, subnetIds: SUBNETS, endpoints: { routeTableIds: ROUTE_TABLES } });
    const groups = resourcesOf(template, 'AWS::EC2::SecurityGroup');
    expect(groups).toHaveLength(2);
    const [functionGroupId] = groups.find(([, g]) => g.Properties!.SecurityGroupIngress === undefined)!;
    const [, endpointGroup] = groups.find(([, g]) => g.Properties!.SecurityGroupIngress !== undefined)!;
    expect(endpointGroup.Properties!.SecurityGroupIngress).toEqual([
      expect.objectContaining({ FromPort: 443, ToPort: 443, SourceSecurityGroupId: { 'Fn::GetAtt': [functionGroupId, 'GroupId'] } }),
    ]);
  });
});
