/**
 * CollectionSpec: a plain, JSON-serializable description of a collection, independent of how the
 * SDK or a given server spells it. describeCollection produces it, translateSchema rewrites it,
 * createCollection consumes it, and it travels in job records, so it holds only data.
 */

/** The SDK's DataType names (e.g. 'Int64', 'VarChar', 'FloatVector'). */
export type DataTypeName =
  | 'None'
  | 'Bool'
  | 'Int8'
  | 'Int16'
  | 'Int32'
  | 'Int64'
  | 'Float'
  | 'Double'
  | 'VarChar'
  | 'Array'
  | 'JSON'
  | 'Geometry'
  | 'Text'
  | 'Timestamptz'
  | 'BinaryVector'
  | 'FloatVector'
  | 'Float16Vector'
  | 'BFloat16Vector'
  | 'SparseFloatVector'
  | 'Int8Vector'
  | 'ArrayOfVector'
  | 'Struct';

/** A field default value. Int64 defaults are decimal strings so no precision is lost. */
export type DefaultValue = string | number | boolean;

export interface FieldSpec {
  name: string;
  description: string;
  dataType: DataTypeName;
  isPrimaryKey: boolean;
  autoId: boolean;
  /** Vector dimension (absent for sparse vectors and scalars). */
  dim?: number;
  /** VarChar length, also for Array<VarChar> elements. */
  maxLength?: number;
  /** Array capacity. */
  maxCapacity?: number;
  /** Array element type. */
  elementType?: DataTypeName;
  nullable: boolean;
  defaultValue?: DefaultValue;
  isPartitionKey: boolean;
  isClusteringKey: boolean;
  /** Filled by a collection function (e.g. BM25): never read from the source nor written to the target. */
  isFunctionOutput: boolean;
  /** Every other type param as the server stores it (strings): enable_analyzer, analyzer_params, enable_match, mmap.enabled... */
  typeParams: Record<string, string>;
}

export interface FunctionSpec {
  name: string;
  description: string;
  /** FunctionType name: 'BM25', 'TextEmbedding', ... */
  type: string;
  inputFieldNames: string[];
  outputFieldNames: string[];
  params: Record<string, string>;
  /** The server did not describe the function (milvus-lite never does); it was rebuilt from the fields. */
  inferred?: boolean;
}

export interface IndexSpec {
  fieldName: string;
  indexName: string;
  indexType: string;
  metricType?: string;
  /** Build params as strings (M, efConstruction, nlist, bm25_k1, or a JSON `params` blob). */
  params: Record<string, string>;
}

export interface CollectionSpec {
  name: string;
  description: string;
  /** Name of the primary key field. */
  primaryField: string;
  fields: FieldSpec[];
  functions: FunctionSpec[];
  enableDynamicField: boolean;
  /** Absent: the server's default (milvus-lite does not report it). */
  shardsNum?: number;
  /** Partition count of a partition-key collection. */
  numPartitions?: number;
  consistencyLevel: string;
  properties: Record<string, string>;
  indexes: IndexSpec[];
  /**
   * Partitions created by the user, `_default` first (absent: only `_default`, or the server cannot
   * list them). Never set for a partition-key collection: the server owns those partitions.
   */
  partitions?: string[];
  /** Aliases pointing at the collection. */
  aliases?: string[];
}

export const DEFAULT_PARTITION = '_default';

/** Whether rows must be copied partition by partition (the collection has partitions other than `_default`). */
export const hasUserPartitions = (spec: CollectionSpec): boolean =>
  (spec.partitions ?? []).some((p) => p !== DEFAULT_PARTITION);

/** Name of the dynamic field, as query returns it and insert expects it. */
export const DYNAMIC_FIELD = '$meta';

const VECTOR_TYPES: readonly DataTypeName[] = [
  'BinaryVector',
  'FloatVector',
  'Float16Vector',
  'BFloat16Vector',
  'SparseFloatVector',
  'Int8Vector',
];

export const isVectorType = (dataType: DataTypeName): boolean => VECTOR_TYPES.includes(dataType);
export const isDenseFloatVectorType = (dataType: DataTypeName): boolean =>
  dataType === 'FloatVector' || dataType === 'Float16Vector' || dataType === 'BFloat16Vector';

export function primaryField(spec: CollectionSpec): FieldSpec {
  const field = spec.fields.find((f) => f.isPrimaryKey);
  if (!field) throw new Error(`collection ${spec.name} has no primary key field`);
  return field;
}

/** Collection property: an autoID collection keeps the explicit keys it is given (Milvus >= 2.6). */
export const ALLOW_INSERT_AUTO_ID = 'allow_insert_auto_id';

/**
 * Whose primary keys a collection holds, the one rule for "the target generates its keys":
 * 'explicit' (not autoID), 'explicit-autoid' (autoID that keeps explicit keys: allow_insert_auto_id),
 * 'generated' (autoID: the server mints every key and drops or refuses the ones it is sent).
 */
export type KeyOrigin = 'explicit' | 'explicit-autoid' | 'generated';
export function keyOrigin(spec: CollectionSpec): KeyOrigin {
  if (!primaryField(spec).autoId) return 'explicit';
  return spec.properties[ALLOW_INSERT_AUTO_ID] === 'true' ? 'explicit-autoid' : 'generated';
}

/** Fields the copy reads and writes: everything except function outputs (the target regenerates those). */
export function copiedFields(spec: CollectionSpec): FieldSpec[] {
  return spec.fields.filter((f) => !f.isFunctionOutput);
}

/** A deep copy; specs are plain data. */
export const cloneSpec = (spec: CollectionSpec): CollectionSpec => structuredClone(spec);
