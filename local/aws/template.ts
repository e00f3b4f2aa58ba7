import type { CfnTemplate } from '../../infra/synth';

/** A resource of a synthesized template, with the parts the local account reads. */
export interface TemplateResource {
  Type: string;
  Properties?: Record<string, any>;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
}

/** Any synthesized template (infra/synth.ts CfnTemplate, or one read from `cdk synth --output`). */
export type Template = CfnTemplate;

export const resourcesOfType = (template: Template, type: string): [string, TemplateResource][] =>
  (Object.entries(template.Resources) as [string, TemplateResource][]).filter(([, resource]) => resource.Type === type);

/** An IAM policy document as templates hold it, after intrinsics are resolved. */
export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: '*' | Record<string, string | string[]>;
  NotPrincipal?: Record<string, string | string[]>;
  Condition?: Record<string, Record<string, unknown>>;
}
