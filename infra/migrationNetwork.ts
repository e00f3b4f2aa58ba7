import { ArnFormat, Fn, Stack } from 'aws-cdk-lib';
import {
  CfnVPCEndpoint,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  Peer,
  Port,
  SecurityGroup,
  Subnet,
  Vpc,
  type ISecurityGroup,
  type ISubnet,
  type IVpc,
  type SubnetSelection,
} from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** Where the functions that connect to Milvus run (deploy parameters vpcId, subnetIds, ... in infra/deployParameters.ts). */
export interface MigrationNetworkProps {
  /** The VPC the clusters are reachable from. */
  readonly vpcId: string;
  /** The subnets the functions' network interfaces go into (private subnets, ideally in two or more AZs). */
  readonly subnetIds: readonly string[];
  /** The functions' security groups. @default one created by the stack: all egress, no ingress */
  readonly securityGroupIds?: readonly string[];
  /**
   * Create VPC endpoints for every AWS service the functions call, so the subnets need no NAT route.
   * The route tables are those of the subnets: the DynamoDB gateway endpoint adds its route there.
   * @default no endpoints: the subnets reach AWS through a NAT route (or endpoints of their own)
   */
  readonly endpoints?: { readonly routeTableIds: readonly string[] };
}

/** The interface endpoints the functions need besides DynamoDB's gateway endpoint, by construct id. */
const INTERFACE_ENDPOINTS: Record<string, InterfaceVpcEndpointAwsService> = {
  SecretsManager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER, // cluster credentials
  Events: InterfaceVpcEndpointAwsService.EVENTBRIDGE, // job outcomes and the lag alert
  StepFunctions: InterfaceVpcEndpointAwsService.STEP_FUNCTIONS, // the API starts, stops, describes executions
  Kms: InterfaceVpcEndpointAwsService.KMS, // the credentials key
  Logs: InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  XRay: InterfaceVpcEndpointAwsService.XRAY, // active tracing
};

/** What a NodejsFunction needs to run in the VPC. */
export interface FunctionPlacement {
  readonly vpc: IVpc;
  readonly vpcSubnets: SubnetSelection;
  readonly securityGroups: ISecurityGroup[];
}

/**
 * The customer's VPC, imported from ids (no lookup: synth needs no AWS credentials and no
 * cdk.context.json), the functions' security groups and, optionally, the VPC endpoints.
 */
export class MigrationNetwork extends Construct {
  readonly vpc: IVpc;
  readonly subnets: ISubnet[];
  readonly securityGroups: ISecurityGroup[];
  /** The security group of the interface endpoints, when the stack creates them. */
  readonly endpointSecurityGroup?: SecurityGroup;

  constructor(scope: Construct, id: string, props: MigrationNetworkProps) {
    super(scope, id);
    // fromVpcAttributes insists on a list of AZs but uses it only to sort subnets it is given by
    // type; the subnets are passed to every consumer explicitly, so the region's AZs will do.
    this.vpc = Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: props.vpcId, availabilityZones: Fn.getAzs() });
    this.subnets = props.subnetIds.map((subnetId) => Subnet.fromSubnetId(this, `Subnet-${subnetId}`, subnetId));

    if (props.securityGroupIds && props.securityGroupIds.length > 0) {
      // mutable: false, so that nothing in this stack adds rules to groups the deployer owns.
      this.securityGroups = props.securityGroupIds.map((groupId) =>
        SecurityGroup.fromSecurityGroupId(this, `SecurityGroup-${groupId}`, groupId, { mutable: false }),
      );
    } else {
      this.securityGroups = [
        new SecurityGroup(this, 'FunctionsSecurityGroup', {
          vpc: this.vpc,
          description: 'milvus-migrate functions: outbound to Milvus and AWS services, nothing inbound',
          allowAllOutbound: true,
        }),
      ];
    }

    if (props.endpoints) {
      this.endpointSecurityGroup = new SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc: this.vpc,
        description: 'milvus-migrate VPC endpoints: HTTPS from the functions',
        // An endpoint never opens connections; this leaves only CDK's placeholder "deny all" egress rule.
        allowAllOutbound: false,
      });
      for (const group of this.securityGroups) {
        this.endpointSecurityGroup.addIngressRule(Peer.securityGroupId(group.securityGroupId), Port.tcp(443), 'HTTPS from the milvus-migrate functions');
      }
      new CfnVPCEndpoint(this, 'DynamoDb', {
        vpcId: props.vpcId,
        vpcEndpointType: 'Gateway',
        serviceName: GatewayVpcEndpointAwsService.DYNAMODB.name,
        // L1 because the gateway L2 reads route tables from the subnets, which an import by id has not got.
        routeTableIds: [...props.endpoints.routeTableIds],
      });
      for (const [endpointId, service] of Object.entries(INTERFACE_ENDPOINTS)) {
        new InterfaceVpcEndpoint(this, endpointId, {
          vpc: this.vpc,
          service,
          subnets: { subnets: this.subnets },
          privateDnsEnabled: true,
          securityGroups: [this.endpointSecurityGroup],
          // open: true would allow 443 from the VPC's CIDR, unknown without a lookup; only the functions need it.
          open: false,
        });
      }
    }
  }

  /** The props that put a function into the subnets with the security groups. */
  get placement(): FunctionPlacement {
    return { vpc: this.vpc, vpcSubnets: { subnets: this.subnets }, securityGroups: this.securityGroups };
  }

  /**
   * What Lambda needs from a VPC function's role to manage its network interfaces: the actions of
   * AWSLambdaVPCAccessExecutionRole without its logs:* on every group (each role writes only to its
   * own log group). The Describe actions work only on "*"; the others are limited to this account
   * and region, the scope Lambda's documentation gives for DeleteNetworkInterface (a narrower one
   * may leave the function unable to reach the VPC).
   */
  grantNetworkInterfaces(role: IRole): void {
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'], resources: ['*'] }));
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: [Stack.of(this).formatArn({ service: 'ec2', resource: '*', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
      }),
    );
  }
}
