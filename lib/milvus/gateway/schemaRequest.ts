import { DataType, type FieldType, type FunctionObject } from '@zilliz/milvus2-sdk-node';
import { PermanentError } from '../../errors';
import type { CollectionSpec, FieldSpec, FunctionSpec } from '../spec';

/** A CollectionSpec as the SDK's CreateCollection request: describe output cannot be sent back as it is. */

const sdkType = (name: string): DataType => {
  const value = DataType[name as keyof typeof DataType];
  if (value === undefined) throw new PermanentError('UNSUPPORTED_SCHEMA', `data type ${name} is not known to the SDK`);
  return value;
};

/** A clean FieldType for createCollection (describe output cannot be sent back). */
export function toFieldType(field: FieldSpec): FieldType {
  const typeParams: Record<string, string> = { ...field.typeParams };
  if (field.dim !== undefined) typeParams.dim = String(field.dim);
  if (field.maxLength !== undefined) typeParams.max_length = String(field.maxLength);
  if (field.maxCapacity !== undefined) typeParams.max_capacity = String(field.maxCapacity);
  const out: FieldType = {
    name: field.name,
    description: field.description,
    data_type: sdkType(field.dataType),
    is_primary_key: field.isPrimaryKey,
    autoID: field.autoId,
    is_partition_key: field.isPartitionKey,
    is_clustering_key: field.isClusteringKey,
    is_function_output: field.isFunctionOutput,
    type_params: typeParams,
  };
  if (field.elementType) out.element_type = sdkType(field.elementType);
  // Sent only when set: milvus-lite refuses any schema that mentions nullable.
  if (field.nullable) out.nullable = true;
  if (field.defaultValue !== undefined) out.default_value = field.defaultValue as number | string;
  return out;
}

function toFunctionObject(fn: FunctionSpec): FunctionObject {
  return {
    name: fn.name,
    description: fn.description,
    type: fn.type as FunctionObject['type'],
    input_field_names: fn.inputFieldNames,
    output_field_names: fn.outputFieldNames,
    params: fn.params,
  };
}

/** The CreateCollection request of a spec (schema, functions, properties, shards, consistency); indexes and partitions come later. */
export function createCollectionRequest(spec: CollectionSpec) {
  return {
    collection_name: spec.name,
    description: spec.description,
    fields: spec.fields.map(toFieldType),
    functions: spec.functions.map(toFunctionObject),
    enable_dynamic_field: spec.enableDynamicField,
    consistency_level: spec.consistencyLevel,
    properties: spec.properties,
    ...(spec.shardsNum ? { shards_num: spec.shardsNum } : {}),
    ...(spec.numPartitions ? { num_partitions: spec.numPartitions } : {}),
  } as const;
}
