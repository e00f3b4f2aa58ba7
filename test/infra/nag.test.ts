import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { MIGRATION_STACK_ID, MigrationStack } from '../../infra/migrationStack';

/**
 * cdk-nag's AwsSolutions pack over the whole stack. cdk-nag 3 is a policy validation plugin: its
 * `validateScope` runs the rules over a construct tree, honouring `Validations.of(x).acknowledge`.
 */
function synthesizedStack(): { app: App; stack: MigrationStack } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new MigrationStack(app, MIGRATION_STACK_ID);
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

describe('cdk-nag AwsSolutions', () => {
  it('finds no error and no warning that is not acknowledged', () => {
    const { app, stack } = synthesizedStack();
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.description.split('\n')[0]}`);
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledged finding a reason', () => {
    const { stack } = synthesizedStack();
    const acknowledged = acknowledgements(stack);
    expect(acknowledged.length).toBeGreaterThan(5);
    for (const { id, reason } of acknowledged) {
      expect(id, id).toMatch(/^AwsSolutions-/);
      expect(reason.length, id).toBeGreaterThanOrEqual(40);
    }
  });

  it('acknowledges only findings the stack really has', () => {
    // The same stack with the acknowledgements stripped: each acknowledged id is then reported.
    const { app, stack } = synthesizedStack();
    const acknowledged = new Set(acknowledgements(stack).map((a) => a.id));
    for (const construct of stack.node.findAll()) {
      const kept = construct.node.metadata.filter((m) => m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY);
      (construct.node as unknown as { _metadata: unknown[] })._metadata = kept;
    }
    const reported = new Set(new AwsSolutionsChecks(app).validateScope(stack).violations.map((v) => v.ruleName));
    expect([...acknowledged].filter((id) => !reported.has(id))).toEqual([]);
  });
});
