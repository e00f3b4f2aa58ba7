import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { MIGRATION_STACK_ID, MigrationStack, type MigrationStackProps } from '../../infra/migrationStack';

/**
 * cdk-nag's AwsSolutions pack over the whole stack. cdk-nag 3 is a policy validation plugin: its
 * `validateScope` runs the rules over a construct tree, honouring `Validations.of(x).acknowledge`.
 */
function synthesizedStack(props: MigrationStackProps): { app: App; stack: MigrationStack } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new MigrationStack(app, MIGRATION_STACK_ID, props);
  app.synth();
  return { app, stack };
}

interface Acknowledgement {
  id: string;
  reason: string;
}

function acknowledgements(stack: MigrationStack): Acknowledgement[] {
  return stack.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
    .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ id: id.replace(/^Annotation::/, ''), reason })));
}

/** The shapes the deploy parameters give: no VPC; a VPC with a security group the stack creates; a VPC with given groups and endpoints. */
const SHAPES: Array<[string, MigrationStackProps]> = [
  ['without a VPC', {}],
  ['in a VPC', { network: { vpcId: 'vpc-0a1b2c3d', subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'] } }],
  [
    'in a VPC with given security groups and endpoints',
    { network: { vpcId: 'vpc-0a1b2c3d', subnetIds: ['subnet-0a1b2c3d'], securityGroupIds: ['sg-0a1b2c3d'], endpoints: { routeTableIds: ['rtb-0a1b2c3d'] } } },
  ],
];

describe.each(SHAPES)('cdk-nag AwsSolutions, %s', (_shape, props) => {
  it('finds no error and no warning that is not acknowledged', () => {
    const { app, stack } = synthesizedStack(props);
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.description.split('\n')[0]}`);
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledged finding a reason', () => {
    const { stack } = synthesizedStack(props);
    const acknowledged = acknowledgements(stack);
    expect(acknowledged.length).toBeGreaterThan(5);
    for (const { id, reason } of acknowledged) {
      expect(id, id).toMatch(/^AwsSolutions-/);
      expect(reason.length, id).toBeGreaterThanOrEqual(40);
    }
  });

  it('acknowledges only findings the stack really has', () => {
    // The same stack with the acknowledgements stripped: each acknowledged id is then reported.
    const { app, stack } = synthesizedStack(props);
    const acknowledged = new Set(acknowledgements(stack).map((a) => a.id));
    for (const construct of stack.node.findAll()) {
      const kept = construct.node.metadata.filter((m) => m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY);
      (construct.node as unknown as { _metadata: unknown[] })._metadata = kept;
    }
    const reported = new Set(new AwsSolutionsChecks(app).validateScope(stack).violations.map((v) => v.ruleName));
    expect([...acknowledged].filter((id) => !reported.has(id))).toEqual([]);
  });
});
