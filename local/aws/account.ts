import { createHash } from 'node:crypto';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../infra/synth';
import { evaluatePolicies, type PolicyEvaluation, type PolicySource, type RequestContext, type RequestPrincipal } from './iamPolicy';
import { resolveIntrinsics } from './intrinsics';
import { derived, physicalIdentity, type PhysicalIdentity } from './physicalIds';
import { resourcesOfType, type PolicyDocument, type Template, type TemplateResource } from './template';

/**
 * A local AWS account made from a synthesized template: every resource gets the physical identity
 * CloudFormation would give it, every Lambda function gets credentials of its own, and every call
 * an emulator serves is authorized against the policies of the template, as IAM would.
 */

export interface LocalAccountOptions {
  region?: string;
  account?: string;
  stackName?: string;
  /** Name of the job table as created in DynamoDB Local (lib/jobs/table.ts createJobTable). */
  tableName?: string;
  /** Values of template Parameters; a parameter's Default otherwise. */
  parameters?: Record<string, string>;
}

export interface FunctionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export interface LocalFunction {
  logicalId: string;
  name: string;
  arn: string;
  handler: string;
  runtime: string;
  memoryMiB: number;
  timeoutSeconds: number;
  environment: Record<string, string>;
  roleLogicalId: string;
  roleName: string;
  roleArn: string;
  /** The session ARN IAM names in AccessDenied messages: arn:aws:sts::<acct>:assumed-role/<role>/<function>. */
  assumedRoleArn: string;
  /** Folder of the bundled asset, relative to the cloud assembly (Metadata aws:asset:path), when bundled. */
  assetPath?: string;
  vpcConfig?: Record<string, unknown>;
  credentials: FunctionCredentials;
}

/** Who signed a request. `root` is the account's root user: allowed everything (setup and CLI checks). */
export type Caller =
  | { kind: 'function'; function: LocalFunction; arn: string }
  | { kind: 'root'; arn: string };

interface AuthorizationRequest {
  accessKeyId: string;
  action: string;
  resource: string;
  context?: RequestContext;
}

interface AuthorizationDecision {
  allowed: boolean;
  reason: string;
  /** Conditions that failed on statements that otherwise matched (EventBridge names the failing key in its answer). */
  failedConditions: string[];
}

interface PermissionLogEntry {
  functionLogicalId: string;
  action: string;
  resource: string;
  allowed: boolean;
  reason: string;
}

export interface KmsKey {
  logicalId: string;
  keyId: string;
  arn: string;
  keyPolicy: PolicyDocument;
}

export interface LocalAccount {
  region: string;
  accountId: string;
  stackName: string;
  template: Template;
  /** Resolves CloudFormation intrinsics against the account's physical identities; throws on what it cannot resolve. */
  resolve(value: unknown): unknown;
  identity(logicalId: string): PhysicalIdentity;
  functions: Record<string, LocalFunction>;
  /** Credentials of the account root: every call allowed, nothing recorded. */
  rootCredentials: FunctionCredentials;
  table: { logicalId: string; name: string; arn: string };
  stateMachines: Record<string, { name: string; arn: string; type: string }>;
  kmsKeys: Record<string, KmsKey>;
  /** Finds a key by key id, key ARN or alias name/ARN declared in the template. */
  findKmsKey(keyIdOrArn: string): KmsKey | undefined;
  callerOf(accessKeyId: string): Caller | undefined;
  /** Identity-policy evaluation of a call by the function whose access key signed it; recorded in the permission log. */
  authorize(request: AuthorizationRequest): AuthorizationDecision;
  /**
   * A KMS call a service (Secrets Manager) makes on the caller's behalf: the caller's identity
   * policy and the key policy must both allow it, where a key-policy statement for the account root
   * delegates to IAM (CDK's default key policy). Recorded in the permission log.
   */
  authorizeKms(request: { accessKeyId: string; action: string; key: KmsKey; viaService: string; context?: RequestContext }): AuthorizationDecision;
  /** A resource policy (topic policy, key policy) evaluated for a service principal: events.amazonaws.com... */
  authorizeService(request: { service: string; action: string; resource: string; policies: PolicySource[]; context?: RequestContext }): AuthorizationDecision;
  permissionLog(): PermissionLogEntry[];
  deniedCalls(): PermissionLogEntry[];
  clearPermissionLog(): void;
}

const PSEUDO = (region: string, account: string, stackName: string): Record<string, string> => ({
  'AWS::Region': region,
  'AWS::AccountId': account,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': stackName,
  'AWS::StackId': `arn:aws:cloudformation:${region}:${account}:stack/${stackName}/${derived(stackName, 8, '0123456789abcdef')}-0000-0000-0000-000000000000`,
  'AWS::NoValue': '',
});

export function createLocalAccount(template: Template, options: LocalAccountOptions = {}): LocalAccount {
  const region = options.region ?? LOCAL_REGION;
  const accountId = options.account ?? LOCAL_ACCOUNT;
  const stackName = options.stackName ?? 'MilvusMigrate';
  const resources = template.Resources as Record<string, TemplateResource>;
  const pseudo = PSEUDO(region, accountId, stackName);
  const parameters = (template.Parameters ?? {}) as Record<string, { Default?: string }>;

  const identities = new Map<string, PhysicalIdentity>();
  const resolving = new Set<string>();
  const identity = (logicalId: string): PhysicalIdentity => {
    const known = identities.get(logicalId);
    if (known) return known;
    const resource = resources[logicalId];
    if (!resource) throw new Error(`the template has no resource ${logicalId}`);
    if (resolving.has(logicalId)) throw new Error(`the name of ${logicalId} depends on itself`);
    resolving.add(logicalId);
    try {
      const tableName = resource.Type === 'AWS::DynamoDB::Table' ? options.tableName : undefined;
      const made = physicalIdentity(logicalId, resource, { region, account: accountId, stackName, tableName, resolveName: (value) => String(resolve(value)) });
      identities.set(logicalId, made);
      return made;
    } finally {
      resolving.delete(logicalId);
    }
  };
  const resolve = (value: unknown): unknown =>
    resolveIntrinsics(
      {
        ref(name) {
          if (name in pseudo) return pseudo[name]!;
          if (name in parameters) {
            const value = options.parameters?.[name] ?? parameters[name]!.Default;
            if (value === undefined) throw new Error(`parameter ${name} has no value (give it in options.parameters)`);
            return value;
          }
          return identity(name).ref;
        },
        getAtt(logicalId, attribute) {
          const value = identity(logicalId).attributes[attribute];
          if (value === undefined) throw new Error(`Fn::GetAtt ${logicalId}.${attribute} (${resources[logicalId]?.Type}) is not resolved locally`);
          return value;
        },
      },
      value,
    );

  const credentialsFor = (principal: string): FunctionCredentials => {
    const seed = `${stackName}/${principal}`;
    return {
      accessKeyId: `ASIA${derived(`key:${seed}`, 16)}`,
      secretAccessKey: createHash('sha256').update(`secret:${seed}`).digest('base64').slice(0, 40),
      sessionToken: createHash('sha256').update(`token:${seed}`).digest('base64'),
    };
  };

  // Functions, with the role each runs as.
  const functions: Record<string, LocalFunction> = {};
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const props = resource.Properties ?? {};
    const roleLogicalId = (props.Role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
    if (!roleLogicalId || resources[roleLogicalId]?.Type !== 'AWS::IAM::Role') {
      throw new Error(`function ${logicalId}: its Role is not Fn::GetAtt of a role of the template`);
    }
    const { ref: name, attributes } = identity(logicalId);
    const role = identity(roleLogicalId);
    const environment = resolve(props.Environment?.Variables ?? {}) as Record<string, string>;
    const assetPath = resource.Metadata?.['aws:asset:path'];
    functions[logicalId] = {
      logicalId,
      name,
      arn: attributes.Arn!,
      handler: String(props.Handler),
      runtime: String(props.Runtime),
      memoryMiB: Number(props.MemorySize ?? 128),
      timeoutSeconds: Number(props.Timeout ?? 3),
      environment,
      roleLogicalId,
      roleName: role.ref,
      roleArn: role.attributes.Arn!,
      assumedRoleArn: `arn:aws:sts::${accountId}:assumed-role/${role.ref}/${name}`,
      ...(typeof assetPath === 'string' ? { assetPath } : {}),
      ...(props.VpcConfig ? { vpcConfig: resolve(props.VpcConfig) as Record<string, unknown> } : {}),
      credentials: credentialsFor(logicalId),
    };
  }
  const rootCredentials = credentialsFor('(root)');
  const byAccessKey = new Map<string, Caller>(Object.values(functions).map((fn) => [fn.credentials.accessKeyId, { kind: 'function', function: fn, arn: fn.assumedRoleArn }]));
  byAccessKey.set(rootCredentials.accessKeyId, { kind: 'root', arn: `arn:aws:iam::${accountId}:root` });

  // Identity policies of each role: AWS::IAM::Policy naming it, its inline Policies, its managed policies of the template.
  const rolePolicies = new Map<string, PolicySource[]>();
  const unevaluatedPolicies = new Map<string, string[]>();
  const policiesOf = (roleLogicalId: string): PolicySource[] => {
    const cached = rolePolicies.get(roleLogicalId);
    if (cached) return cached;
    const sources: PolicySource[] = [];
    const unevaluated: string[] = [];
    const roleRef = identity(roleLogicalId).ref;
    for (const [policyId, policy] of resourcesOfType(template, 'AWS::IAM::Policy')) {
      const roles = (resolve(policy.Properties?.Roles ?? []) as string[]) ?? [];
      if (roles.includes(roleRef)) sources.push({ name: `policy ${policyId}`, document: resolve(policy.Properties?.PolicyDocument) as PolicyDocument });
    }
    const role = resources[roleLogicalId]!.Properties ?? {};
    for (const inline of (role.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[]) {
      sources.push({ name: `inline policy ${inline.PolicyName} of ${roleLogicalId}`, document: resolve(inline.PolicyDocument) as PolicyDocument });
    }
    for (const managedArn of (resolve(role.ManagedPolicyArns ?? []) as string[])) {
      const managed = resourcesOfType(template, 'AWS::IAM::ManagedPolicy').find(([id]) => identity(id).ref === managedArn);
      if (managed) sources.push({ name: `managed policy ${managed[0]}`, document: resolve(managed[1].Properties?.PolicyDocument) as PolicyDocument });
      // AWS managed policies (arn:aws:iam::aws:policy/...) are not in the template: their grants are not known here.
      else unevaluated.push(managedArn);
    }
    for (const [policyId, policy] of resourcesOfType(template, 'AWS::IAM::ManagedPolicy')) {
      const roles = (resolve(policy.Properties?.Roles ?? []) as string[]) ?? [];
      if (roles.includes(roleRef)) sources.push({ name: `managed policy ${policyId}`, document: resolve(policy.Properties?.PolicyDocument) as PolicyDocument });
    }
    rolePolicies.set(roleLogicalId, sources);
    unevaluatedPolicies.set(roleLogicalId, unevaluated);
    return sources;
  };

  const kmsKeys: Record<string, KmsKey> = {};
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::KMS::Key')) {
    const { ref, attributes } = identity(logicalId);
    kmsKeys[logicalId] = { logicalId, keyId: ref, arn: attributes.Arn!, keyPolicy: resolve(resource.Properties?.KeyPolicy) as PolicyDocument };
  }
  const aliases = resourcesOfType(template, 'AWS::KMS::Alias').map(([, alias]) => ({
    name: String(resolve(alias.Properties?.AliasName)),
    target: String(resolve(alias.Properties?.TargetKeyId)),
  }));
  const findKmsKey = (keyIdOrArn: string): KmsKey | undefined => {
    const alias = aliases.find((a) => keyIdOrArn === a.name || keyIdOrArn.endsWith(`:${a.name}`));
    const wanted = alias ? alias.target : keyIdOrArn;
    return Object.values(kmsKeys).find((key) => key.keyId === wanted || key.arn === wanted);
  };

  const [tableEntry, ...otherTables] = resourcesOfType(template, 'AWS::DynamoDB::Table');
  if (!tableEntry || otherTables.length) throw new Error(`expected one DynamoDB table in the template, found ${otherTables.length + (tableEntry ? 1 : 0)}`);
  const table = { logicalId: tableEntry[0], name: identity(tableEntry[0]).ref, arn: identity(tableEntry[0]).attributes.Arn! };

  const stateMachines: LocalAccount['stateMachines'] = {};
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::StepFunctions::StateMachine')) {
    const { attributes } = identity(logicalId);
    stateMachines[logicalId] = { name: attributes.Name!, arn: attributes.Arn!, type: String(resource.Properties?.StateMachineType ?? 'STANDARD') };
  }

  const log: PermissionLogEntry[] = [];
  const record = (fn: LocalFunction, action: string, resource: string, decision: AuthorizationDecision): AuthorizationDecision => {
    log.push({ functionLogicalId: fn.logicalId, action, resource, allowed: decision.allowed, reason: decision.reason });
    return decision;
  };
  const globalContext = (caller: Caller): RequestContext => ({
    'aws:PrincipalArn': caller.kind === 'function' ? caller.function.roleArn : caller.arn,
    'aws:PrincipalAccount': accountId,
    'aws:RequestedRegion': region,
    'aws:SecureTransport': 'true', // the SDK talks HTTPS to AWS; locally the emulators are plain HTTP
  });

  const identityDecision = (fn: LocalFunction, action: string, resource: string, context: RequestContext): AuthorizationDecision => {
    const evaluation = evaluatePolicies(policiesOf(fn.roleLogicalId), { action, resource, context });
    return explain(evaluation, action, unevaluatedPolicies.get(fn.roleLogicalId) ?? []);
  };

  return {
    region,
    accountId,
    stackName,
    template,
    resolve,
    identity,
    functions,
    rootCredentials,
    table,
    stateMachines,
    kmsKeys,
    findKmsKey,
    callerOf: (accessKeyId) => byAccessKey.get(accessKeyId),
    authorize({ accessKeyId, action, resource, context = {} }) {
      const caller = byAccessKey.get(accessKeyId);
      if (!caller) return { allowed: false, reason: `unknown access key ${accessKeyId}`, failedConditions: [] };
      if (caller.kind === 'root') return { allowed: true, reason: 'account root', failedConditions: [] };
      const decision = identityDecision(caller.function, action, resource, { ...globalContext(caller), ...context });
      return record(caller.function, action, resource, decision);
    },
    authorizeKms({ accessKeyId, action, key, viaService, context = {} }) {
      const caller = byAccessKey.get(accessKeyId);
      if (!caller) return { allowed: false, reason: `unknown access key ${accessKeyId}`, failedConditions: [] };
      if (caller.kind === 'root') return { allowed: true, reason: 'account root', failedConditions: [] };
      const fn = caller.function;
      const fullContext = { ...globalContext(caller), 'kms:ViaService': viaService, 'kms:CallerAccount': accountId, ...context };
      const keyEvaluation = evaluatePolicies([{ name: `key policy of ${key.logicalId}`, document: key.keyPolicy }], {
        action,
        resource: key.arn,
        context: fullContext,
        principal: { AWS: fn.roleArn, account: accountId },
      });
      if (keyEvaluation.decision !== 'allow') {
        const keyDecision = explain(keyEvaluation, action, [], 'key policy statement');
        return record(fn, action, key.arn, { ...keyDecision, reason: `key policy of ${key.logicalId}: ${keyDecision.reason}` });
      }
      if (keyEvaluation.principalMatch === 'direct') return record(fn, action, key.arn, { allowed: true, reason: `${keyEvaluation.statement} names the role`, failedConditions: [] });
      // The key policy delegates to IAM (account root principal): the identity policy must allow too.
      const decision = identityDecision(fn, action, key.arn, fullContext);
      return record(fn, action, key.arn, decision.allowed ? { ...decision, reason: `${decision.reason}; ${keyEvaluation.statement} delegates to IAM` } : decision);
    },
    authorizeService({ service, action, resource, policies, context = {} }) {
      const evaluation = evaluatePolicies(policies, { action, resource, context, principal: { Service: service } as RequestPrincipal });
      return explain(evaluation, action, [], `resource-based policy statement for ${service}`);
    },
    permissionLog: () => [...log],
    deniedCalls: () => log.filter((entry) => !entry.allowed),
    clearPermissionLog: () => void log.splice(0),
  };
}

function explain(evaluation: PolicyEvaluation, action: string, unevaluated: string[], policyKind = 'identity-based policy'): AuthorizationDecision {
  const { failedConditions } = evaluation;
  switch (evaluation.decision) {
    case 'allow':
      return { allowed: true, reason: `allowed by ${evaluation.statement}`, failedConditions };
    case 'deny':
      return { allowed: false, reason: `explicitly denied by ${evaluation.statement}`, failedConditions };
    case 'unsupported':
      return { allowed: false, reason: `refused: ${evaluation.statement}`, failedConditions };
    case 'implicitDeny': {
      const conditions = failedConditions.length ? ` (conditions failed: ${failedConditions.join('; ')})` : '';
      const notEvaluated = unevaluated.length ? ` (not evaluated locally: ${unevaluated.join(', ')})` : '';
      return { allowed: false, reason: `no ${policyKind} allows the ${action} action${conditions}${notEvaluated}`, failedConditions };
    }
  }
}
