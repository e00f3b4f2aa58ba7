import type { PolicyDocument, PolicyStatement } from './template';

/**
 * IAM policy evaluation for one request against a set of policy documents: the part of AWS's
 * evaluation logic our templates exercise (identity policies, key policies, topic policies).
 *
 * Written here rather than taken from a library: the one maintained npm simulator
 * (@cloud-copilot/iam-simulate) is AGPL-3.0, which this Apache-2.0 project cannot ship with.
 *
 * Covered: Allow/Deny, Action/NotAction (case-insensitive, `*` and `?`), Resource/NotResource
 * (case-sensitive, `*` and `?`), Principal for resource policies, and the condition operators
 * listed in OPERATORS with the IfExists suffix and the ForAnyValue:/ForAllValues: qualifiers.
 * Not covered (an operator outside the list refuses the request): Date*, IpAddress, Binary*,
 * policy variables (`${aws:username}`), NotPrincipal, permission boundaries, SCPs, session policies.
 */

/** Condition keys of a request, as AWS would set them (names are case-insensitive). */
export type RequestContext = Record<string, string | string[] | undefined>;

/** Who asks, for resource-based policies (key policies, topic policies). */
export type RequestPrincipal = { AWS: string; account: string } | { Service: string };

export interface PolicySource {
  /** How the reason names it: "policy FunctionsApiRoleDefaultPolicy07759441", "key policy of ...". */
  name: string;
  document: PolicyDocument;
}

export interface PolicyRequest {
  action: string;
  resource: string;
  context?: RequestContext;
  /** Given for resource-based policies: statements must name this principal. */
  principal?: RequestPrincipal;
}

export interface PolicyEvaluation {
  decision: 'allow' | 'deny' | 'implicitDeny' | 'unsupported';
  /** The statement that allowed or explicitly denied, or what could not be evaluated. */
  statement?: string;
  /** For resource policies: whether the allowing statement named the principal itself or its account (delegating to IAM). */
  principalMatch?: 'direct' | 'account';
  /** Statements whose action and resource matched but whose conditions failed: "<statement>: <operator> <key>". */
  failedConditions: string[];
}

class UnsupportedPolicyError extends Error {}

const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** `*` and `?` wildcards of IAM as a regular expression. */
function wildcardPattern(pattern: string, ignoreCase: boolean): RegExp {
  if (pattern.includes('${')) throw new UnsupportedPolicyError(`policy variable in "${pattern}" is not evaluated locally`);
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, ignoreCase ? 'is' : 's');
}
const matchesAny = (patterns: string[], value: string, ignoreCase: boolean): boolean =>
  patterns.some((pattern) => wildcardPattern(pattern, ignoreCase).test(value));

type Comparison = (requestValue: string, policyValue: string) => boolean;
const numeric = (compare: (a: number, b: number) => boolean): Comparison => (a, b) => {
  const [x, y] = [Number(a), Number(b)];
  return !Number.isNaN(x) && !Number.isNaN(y) && compare(x, y);
};

/** Base operators: how one request value compares with one policy value, and whether the operator is negated. */
const OPERATORS: Record<string, { compare: Comparison; negated: boolean }> = {
  StringEquals: { compare: (a, b) => a === b, negated: false },
  StringNotEquals: { compare: (a, b) => a === b, negated: true },
  StringEqualsIgnoreCase: { compare: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { compare: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: true },
  StringLike: { compare: (a, b) => wildcardPattern(b, false).test(a), negated: false },
  StringNotLike: { compare: (a, b) => wildcardPattern(b, false).test(a), negated: true },
  // Whole-ARN wildcard matching; AWS matches segment by segment, which differs only for `*` spanning a colon.
  ArnEquals: { compare: (a, b) => wildcardPattern(b, false).test(a), negated: false },
  ArnLike: { compare: (a, b) => wildcardPattern(b, false).test(a), negated: false },
  ArnNotEquals: { compare: (a, b) => wildcardPattern(b, false).test(a), negated: true },
  ArnNotLike: { compare: (a, b) => wildcardPattern(b, false).test(a), negated: true },
  Bool: { compare: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: false },
  NumericEquals: { compare: numeric((a, b) => a === b), negated: false },
  NumericNotEquals: { compare: numeric((a, b) => a === b), negated: true },
  NumericLessThan: { compare: numeric((a, b) => a < b), negated: false },
  NumericLessThanEquals: { compare: numeric((a, b) => a <= b), negated: false },
  NumericGreaterThan: { compare: numeric((a, b) => a > b), negated: false },
  NumericGreaterThanEquals: { compare: numeric((a, b) => a >= b), negated: false },
};

function contextValue(context: RequestContext, key: string): string[] | undefined {
  const wanted = key.toLowerCase();
  for (const [name, value] of Object.entries(context)) {
    if (name.toLowerCase() === wanted && value !== undefined) return asList(value);
  }
  return undefined;
}

/** One condition operator block entry (operator, key, policy values) against the request. */
function conditionHolds(operatorName: string, key: string, policyValues: string[], context: RequestContext): boolean {
  const match = /^(ForAnyValue:|ForAllValues:)?(.+?)(IfExists)?$/.exec(operatorName);
  const [, qualifier, base = '', ifExists] = match ?? [];
  const values = contextValue(context, key);
  if (base === 'Null') {
    const wantsAbsent = policyValues.some((v) => v.toLowerCase() === 'true');
    return wantsAbsent === (values === undefined || values.length === 0);
  }
  const operator = OPERATORS[base];
  if (!operator) throw new UnsupportedPolicyError(`condition operator ${operatorName} is not evaluated locally`);
  if (values === undefined || values.length === 0) {
    // A missing key fails a positive operator and satisfies a negated one (and ForAllValues), as on AWS.
    return Boolean(ifExists) || operator.negated || qualifier === 'ForAllValues:';
  }
  const satisfies = (value: string): boolean => {
    const anyMatch = policyValues.some((policyValue) => operator.compare(value, policyValue));
    return operator.negated ? !anyMatch : anyMatch;
  };
  return qualifier === 'ForAllValues:' ? values.every(satisfies) : values.some(satisfies);
}

function principalMatch(statement: PolicyStatement, principal: RequestPrincipal): 'direct' | 'account' | undefined {
  if (statement.NotPrincipal) throw new UnsupportedPolicyError('NotPrincipal is not evaluated locally');
  const named = statement.Principal;
  if (named === undefined) return undefined;
  if (named === '*') return 'direct';
  if ('Service' in principal) return asList(named.Service).includes(principal.Service) ? 'direct' : undefined;
  const awsPrincipals = asList(named.AWS);
  if (awsPrincipals.includes('*') || awsPrincipals.includes(principal.AWS)) return 'direct';
  const root = `arn:aws:iam::${principal.account}:root`;
  if (awsPrincipals.includes(root) || awsPrincipals.includes(principal.account)) return 'account';
  return undefined;
}

const describe = (source: PolicySource, statement: PolicyStatement, index: number): string =>
  `${source.name} statement ${index}${statement.Sid ? ` (${statement.Sid})` : ''}`;

/**
 * Evaluates the request against every statement of every policy: an explicit Deny wins, then any
 * Allow, else the implicit deny. A statement this module cannot evaluate makes the whole answer
 * 'unsupported' (the caller refuses), so nothing passes on an evaluation it did not do.
 */
export function evaluatePolicies(sources: PolicySource[], request: PolicyRequest): PolicyEvaluation {
  const context = request.context ?? {};
  const failedConditions: string[] = [];
  let allow: { statement: string; principalMatch?: 'direct' | 'account' } | undefined;
  try {
    for (const source of sources) {
      asList(source.document.Statement).forEach((statement, index) => {
        const label = describe(source, statement, index);
        let matchedPrincipal: 'direct' | 'account' | undefined;
        if (request.principal) {
          matchedPrincipal = principalMatch(statement, request.principal);
          if (!matchedPrincipal) return;
        }
        if (statement.Action !== undefined && !matchesAny(asList(statement.Action), request.action, true)) return;
        if (statement.NotAction !== undefined && matchesAny(asList(statement.NotAction), request.action, true)) return;
        if (statement.Resource !== undefined && !matchesAny(asList(statement.Resource), request.resource, false)) return;
        if (statement.NotResource !== undefined && matchesAny(asList(statement.NotResource), request.resource, false)) return;
        for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
          for (const [key, value] of Object.entries(block)) {
            if (!conditionHolds(operator, key, asList(value as string | string[]).map(String), context)) {
              failedConditions.push(`${label}: ${operator} ${key}`);
              return;
            }
          }
        }
        if (statement.Effect === 'Deny') throw new ExplicitDeny(label);
        if (!allow || (allow.principalMatch === 'account' && matchedPrincipal === 'direct')) allow = { statement: label, principalMatch: matchedPrincipal };
      });
    }
  } catch (error) {
    if (error instanceof ExplicitDeny) return { decision: 'deny', statement: error.message, failedConditions };
    if (error instanceof UnsupportedPolicyError) return { decision: 'unsupported', statement: error.message, failedConditions };
    throw error;
  }
  if (allow) return { decision: 'allow', statement: allow.statement, principalMatch: allow.principalMatch, failedConditions };
  return { decision: 'implicitDeny', failedConditions };
}

class ExplicitDeny extends Error {}
