import {
  GatewayResponse,
  Model,
  ResponseType,
  type IRequestValidator,
  type IRestApi,
  type JsonSchema,
  type MethodOptions,
} from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import { createMigrationRequestSchema, resumeMigrationRequestSchema, stopSyncRequestSchema } from '../lib/api/openapi';

/** Names of the request models in API Gateway (and of the schemas in the OpenAPI document). */
export const REQUEST_MODEL_NAMES = { createMigration: 'CreateMigrationRequest', stopSync: 'StopSyncRequest', resumeMigration: 'ResumeMigrationRequest' } as const;

/** The request model of `POST /migrations`: the OpenAPI document's schema in JSON Schema draft 4, API Gateway's dialect. */
export const createMigrationModelSchema = () => createMigrationRequestSchema('draft-04');
/** The request model of `POST /migrations/{id}/stop-sync`. */
export const stopSyncModelSchema = () => stopSyncRequestSchema('draft-04');
/** The request model of `POST /migrations/{id}/resume`. */
export const resumeMigrationModelSchema = () => resumeMigrationRequestSchema('draft-04');

/**
 * API Gateway request models made from the zod schemas that validate requests in the API function
 * (lib/api/requests.ts, through lib/api/openapi.ts), so validation is defined once: API Gateway
 * refuses a body that breaks the schema before the function runs, and the function still checks
 * what JSON Schema cannot say (uri format, credential combinations, repeated names). Pass a
 * property of this construct as the options of the method that takes that body.
 */
export class ApiRequestModels extends Construct {
  /** `POST /migrations` and `POST /migrations/preflight` (the same body). */
  readonly createMigration: MethodOptions;
  /** `POST /migrations/{id}/stop-sync`. */
  readonly stopSync: MethodOptions;
  /** `POST /migrations/{id}/resume`. */
  readonly resumeMigration: MethodOptions;

  constructor(scope: Construct, id: string, props: { api: IRestApi; requestValidator: IRequestValidator }) {
    super(scope, id);
    const model = (modelId: string, modelName: string, schema: Record<string, unknown>, description: string) =>
      new Model(this, modelId, { restApi: props.api, modelName, contentType: 'application/json', description, schema: schema as JsonSchema });
    const create = model('CreateMigration', REQUEST_MODEL_NAMES.createMigration, createMigrationModelSchema(), 'milvus-migrate: body of POST /migrations (generated from the zod schema)');
    const stopSync = model('StopSync', REQUEST_MODEL_NAMES.stopSync, stopSyncModelSchema(), 'milvus-migrate: body of POST /migrations/{id}/stop-sync (generated from the zod schema)');
    this.createMigration = { requestValidator: props.requestValidator, requestModels: { 'application/json': create } };
    this.stopSync = { requestValidator: props.requestValidator, requestModels: { 'application/json': stopSync } };
    const resume = model('ResumeMigration', REQUEST_MODEL_NAMES.resumeMigration, resumeMigrationModelSchema(), 'milvus-migrate: body of POST /migrations/{id}/resume (generated from the zod schema)');
    this.resumeMigration = { requestValidator: props.requestValidator, requestModels: { 'application/json': resume } };

    // A body API Gateway refuses gets the API's own error shape ({error: {code, message}}), with
    // API Gateway's description of what broke the schema as the message.
    new GatewayResponse(this, 'BadRequestBody', {
      restApi: props.api,
      type: ResponseType.BAD_REQUEST_BODY,
      statusCode: '400',
      templates: { 'application/json': '{"error":{"code":"INVALID_REQUEST","message":"$context.error.validationErrorString"}}' },
    });
  }
}
