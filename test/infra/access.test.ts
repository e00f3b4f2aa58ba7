import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONNECTING_STEPS, RELEASING_STEPS } from '../../infra/migrationFunctions';
import { synthesizeTemplate, type CfnTemplate } from '../../infra/synth';
import { STEP_IDS } from '../../lib/workflow/steps';
import { API_ROUTES } from '../../lib/api/requests';

/** Who may call the API, and what each function may do. */
let json: CfnTemplate;
let template: Template;
beforeAll(() => {
  json = synthesizeTemplate();
  template = Template.fromJSON(json);
});

/** Every action the function's role may take, from all the policies attached to it. */
function actionsOf(functionLogicalId: string): string[] {
  const roleId = json.Resources[functionLogicalId]!.Properties!.Role['Fn::GetAtt'][0];
  return Object.values(json.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties!.Roles as Array<{ Ref: string }>).some((role) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties!.PolicyDocument.Statement)
    .flatMap((statement: { Action: string | string[] }) => [statement.Action].flat());
}

const functionByEnv = (name: string, value?: string) =>
  Object.entries(json.Resources).find(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && (value === undefined ? r.Properties?.Environment?.Variables?.[name] !== undefined : r.Properties?.Environment?.Variables?.[name] === value),
  )![0];

describe('access', () => {
  it('requires IAM authorization on every API method', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(API_ROUTES.length);
    for (const method of methods) expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  it('logs API access and errors, never request bodies', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR', DataTraceEnabled: false, HttpMethod: '*', ResourcePath: '/*' })],
    });
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
  });

  it('encrypts the secrets the API creates with a rotated customer-managed key passed as CREDENTIALS_KMS_KEY_ID', () => {
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key', { Properties: { EnableKeyRotation: true } }));
    expect(keyId).toBeDefined();
    const api = json.Resources[functionByEnv('STATE_MACHINE_ARN')]!;
    expect(api.Properties!.Environment.Variables.CREDENTIALS_KMS_KEY_ID).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
  });

  it('expires idempotency keys through the table TTL attribute', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } });
  });

  it('lets only the steps that connect read credentials, and only the ending steps delete them', () => {
    for (const stepId of STEP_IDS) {
      const actions = actionsOf(functionByEnv('STEP_ID', stepId));
      expect(actions.includes('secretsmanager:GetSecretValue'), stepId).toBe(CONNECTING_STEPS.includes(stepId));
      expect(actions.includes('kms:Decrypt'), stepId).toBe(CONNECTING_STEPS.includes(stepId));
      expect(actions.includes('secretsmanager:DeleteSecret'), stepId).toBe(RELEASING_STEPS.includes(stepId));
      expect(actions.filter((a) => a.startsWith('secretsmanager:Create') || a.startsWith('states:')), stepId).toEqual([]);
    }
  });

  it('lets the API save and forget credentials but never read them back', () => {
    const actions = actionsOf(functionByEnv('STATE_MACHINE_ARN'));
    expect(actions).toEqual(expect.arrayContaining(['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:DeleteSecret', 'kms:GenerateDataKey']));
    expect(actions).not.toContain('secretsmanager:GetSecretValue');
    expect(actions.filter((a) => a.startsWith('secretsmanager:') && a.includes('*'))).toEqual([]);
  });

  it('gives no function the AWS managed basic execution role: each writes only its own log group', () => {
    const roles = Object.values(template.findResources('AWS::IAM::Role')).filter((r) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('lambda.amazonaws.com'));
    expect(roles.length).toBeGreaterThanOrEqual(STEP_IDS.length + 1);
    for (const role of roles) expect(JSON.stringify(role.Properties.ManagedPolicyArns ?? [])).not.toContain('AWSLambdaBasicExecutionRole');
  });
});
