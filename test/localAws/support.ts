import { App } from 'aws-cdk-lib';
import type { CfnTemplate } from '../../infra/synth';
import { MIGRATION_STACK_ID, MigrationStack, type MigrationStackProps } from '../../infra/migrationStack';
import type { FunctionCredentials, LocalAccount, LocalFunction } from '../../local/aws/account';

/** infra/synth.ts synthesizeTemplate() with stack props (alert emails): no bundling, no validation. */
export function synthesizeWith(props: MigrationStackProps): CfnTemplate {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new MigrationStack(app, MIGRATION_STACK_ID, props);
  return app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
}

/** The function of the template: 'Api', or a step by its STEP_ID (copyShard, verify...). */
export function fn(account: LocalAccount, part: string): LocalFunction {
  const found = Object.values(account.functions).filter((f) => (part === 'Api' ? f.logicalId.includes('Api') : f.environment.STEP_ID === part));
  if (found.length !== 1) throw new Error(`expected one function matching ${part}, found ${found.map((f) => f.logicalId).join(', ')}`);
  return found[0]!;
}

/** SDK client options signing as the given credentials against a local endpoint. */
export const clientConfig = (endpoint: string, credentials: FunctionCredentials, region = 'us-east-1') => ({
  endpoint,
  region,
  credentials,
  maxAttempts: 1,
});

/** A deep copy of a template, changed by `edit` (to show a guard failing). */
export function edited(template: CfnTemplate, edit: (resources: Record<string, any>) => void): CfnTemplate {
  const copy = structuredClone(template);
  edit(copy.Resources);
  return copy;
}

/** The resource of the template whose logical id starts with `prefix` and has `type`. */
export function logicalIdOf(template: CfnTemplate, type: string, includes: string): string {
  const ids = Object.entries(template.Resources).filter(([id, r]) => r.Type === type && id.includes(includes)).map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one ${type} matching ${includes}, found ${ids.join(', ')}`);
  return ids[0]!;
}
