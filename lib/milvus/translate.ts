import { PermanentError } from '../errors';
import { versionAtLeast } from './version';
import { ALLOW_INSERT_AUTO_ID, cloneSpec, keyOrigin, isDenseFloatVectorType, isVectorType, type CollectionSpec, type FieldSpec, type IndexSpec } from './spec';

export interface TranslateOptions {
  targetName: string;
  indexPolicy: 'autoindex' | 'preserve';
  /** The target accepts explicit PKs on autoID collections (Milvus >= 2.6, allow_insert_auto_id). */
  targetAllowsExplicitAutoId: boolean;
  /** The target's version (GetVersion); absent when it does not say (milvus-lite): no version check then. */
  targetVersion?: string;
  /** The target generates the primary keys (a mapping set autoID): the source's keys are not kept. */
  discardSourceKeys?: boolean;
}


/** The first Milvus version that holds each feature (release notes of 2.4, 2.5 and 2.6). */
const FIELD_TYPE_SINCE: Partial<Record<string, [number, number]>> = {
  Float16Vector: [2, 4],
  BFloat16Vector: [2, 4],
  SparseFloatVector: [2, 4],
  Int8Vector: [2, 6],
  Geometry: [2, 6],
  Timestamptz: [2, 6],
  ArrayOfVector: [2, 6],
  Struct: [2, 6],
  Text: [2, 6],
};
const FEATURE_SINCE = {
  nullable: [2, 5],
  defaultValue: [2, 4],
  partitionKey: [2, 4],
  clusteringKey: [2, 5],
  functions: [2, 5],
} as const;

/**
 * Refuses, before anything is written, what a target of this version cannot hold: a field type,
 * nullable fields, default values, partition or clustering keys, functions. Names the field.
 */
function checkTargetSupports(spec: CollectionSpec, targetVersion: string | undefined): void {
  if (!targetVersion) return;
  const refuse = (what: string, since: readonly [number, number]) => {
    throw new PermanentError(
      'TARGET_UNSUPPORTED_FEATURE',
      `collection ${spec.name}: ${what} needs Milvus ${since[0]}.${since[1]} or later; the target runs ${targetVersion}`,
    );
  };
  for (const f of spec.fields) {
    for (const type of [f.dataType, f.elementType]) {
      const since = type ? FIELD_TYPE_SINCE[type] : undefined;
      if (since && !versionAtLeast(targetVersion, ...since)) refuse(`field ${f.name} of type ${type}`, since);
    }
    if (f.nullable && !versionAtLeast(targetVersion, ...FEATURE_SINCE.nullable)) refuse(`nullable field ${f.name}`, FEATURE_SINCE.nullable);
    if (f.defaultValue !== undefined && !versionAtLeast(targetVersion, ...FEATURE_SINCE.defaultValue)) refuse(`the default value of field ${f.name}`, FEATURE_SINCE.defaultValue);
    if (f.isPartitionKey && !versionAtLeast(targetVersion, ...FEATURE_SINCE.partitionKey)) refuse(`partition key field ${f.name}`, FEATURE_SINCE.partitionKey);
    if (f.isClusteringKey && !versionAtLeast(targetVersion, ...FEATURE_SINCE.clusteringKey)) refuse(`clustering key field ${f.name}`, FEATURE_SINCE.clusteringKey);
  }
  for (const fn of spec.functions) {
    if (!versionAtLeast(targetVersion, ...FEATURE_SINCE.functions)) refuse(`function ${fn.name} (${fn.type}) producing field ${fn.outputFieldNames.join(', ')}`, FEATURE_SINCE.functions);
  }
}

/** Properties the service itself decides on the target: never copied from the source. */
const SERVICE_PROPERTIES: readonly string[] = [ALLOW_INSERT_AUTO_ID];

/**
 * The target collection's spec for a source spec. Pure. The schema is kept as is (names, types,
 * dims, lengths, capacities, defaults, dynamic field, functions); only what the target must do
 * differently changes: the PK's autoID (to keep the source's PK values) and the indexes.
 */
export function translateSchema(source: CollectionSpec, options: TranslateOptions): { spec: CollectionSpec; warnings: string[] } {
  const spec = cloneSpec(source);
  const warnings: string[] = [];
  spec.name = options.targetName;
  for (const key of SERVICE_PROPERTIES) delete spec.properties[key];
  checkTargetSupports(spec, options.targetVersion);

  const pk = spec.fields.find((f) => f.isPrimaryKey);
  if (pk?.autoId && options.discardSourceKeys) {
    warnings.push(`collection ${source.name}: the target ${options.targetName} generates its primary keys (autoID); the source's values of ${pk.name} are not copied`);
  } else if (pk?.autoId) {
    if (options.targetAllowsExplicitAutoId) {
      spec.properties[ALLOW_INSERT_AUTO_ID] = 'true';
    } else {
      // The copy must write the source's PK values; without allow_insert_auto_id the target would drop them.
      pk.autoId = false;
      warnings.push(
        `collection ${source.name}: primary key ${pk.name} is autoID on the source; the target ${options.targetName} ` +
          `keeps the source's primary key values without autoID, so new inserts there must supply ${pk.name}`,
      );
    }
  }

  for (const fn of spec.functions) {
    if (fn.inferred) {
      warnings.push(
        `collection ${source.name}: the source did not describe the function producing ${fn.outputFieldNames.join(', ')}; ` +
          `recreated as ${fn.type}(${fn.inputFieldNames.join(', ')}) with default parameters`,
      );
    }
    delete fn.inferred;
  }
  const produced = new Set(spec.functions.flatMap((f) => f.outputFieldNames));
  for (const f of spec.fields.filter((x) => x.isFunctionOutput && !produced.has(x.name))) {
    warnings.push(`collection ${source.name}: field ${f.name} is a function output but no function produces it`);
  }

  spec.indexes = translateIndexes(spec, source.indexes, options.indexPolicy);
  return { spec, warnings };
}

function translateIndexes(spec: CollectionSpec, sourceIndexes: IndexSpec[], policy: TranslateOptions['indexPolicy']): IndexSpec[] {
  const byField = new Map(sourceIndexes.map((i) => [i.fieldName, i]));
  const out: IndexSpec[] = [];
  for (const field of spec.fields) {
    const source = byField.get(field.name);
    if (isVectorType(field.dataType)) {
      if (policy === 'preserve' && source) {
        // AUTOINDEX picks its own build params per server; the source's (M, efConstruction...) are its choice, not the user's.
        out.push({ ...structuredClone(source), params: source.indexType === 'AUTOINDEX' ? {} : { ...source.params } });
      } else {
        out.push({
          fieldName: field.name,
          indexName: source?.indexName ?? field.name,
          indexType: 'AUTOINDEX',
          metricType: source?.metricType ?? defaultMetric(field),
          params: {},
        });
      }
    } else if (source) {
      // Scalar indexes are not cluster specific: kept under both policies.
      out.push(structuredClone(source));
    }
  }
  return out;
}

/** The metric for a vector field without a source index. */
function defaultMetric(field: FieldSpec): string {
  if (field.isFunctionOutput) return 'BM25';
  if (field.dataType === 'SparseFloatVector') return 'IP';
  if (field.dataType === 'BinaryVector') return 'HAMMING';
  if (isDenseFloatVectorType(field.dataType)) return 'COSINE';
  return 'L2'; // Int8Vector
}

/**
 * Why rows of `expected` (the translated source spec) cannot be appended to the existing target
 * collection `actual`, or undefined when they can. Pure. Every copied field must exist on the
 * target with the same type, dimension, element type, capacity and key role; every target field
 * the copy does not fill must take a default or null; dynamic keys need a dynamic field; the
 * target must keep explicit primary keys.
 */
export function appendMismatch(expected: CollectionSpec, actual: CollectionSpec): string | undefined {
  const copied = expected.fields.filter((f) => !f.isFunctionOutput);
  for (const f of copied) {
    const t = actual.fields.find((x) => x.name === f.name);
    if (!t) return `field ${f.name} is missing on the target`;
    if (t.isFunctionOutput) return `field ${f.name} is a function output on the target`;
    if (t.dataType !== f.dataType) return `field ${f.name} is ${t.dataType} on the target, ${f.dataType} on the source`;
    if (t.isPrimaryKey !== f.isPrimaryKey) return `field ${f.name} is ${f.isPrimaryKey ? '' : 'not '}the primary key on the source but ${t.isPrimaryKey ? '' : 'not '}on the target`;
    if ((t.dim ?? null) !== (f.dim ?? null)) return `field ${f.name} has dimension ${t.dim} on the target, ${f.dim} on the source`;
    if ((t.elementType ?? null) !== (f.elementType ?? null)) return `field ${f.name} holds ${t.elementType} on the target, ${f.elementType} on the source`;
    if (t.maxLength !== undefined && f.maxLength !== undefined && t.maxLength < f.maxLength) return `field ${f.name} has max_length ${t.maxLength} on the target, ${f.maxLength} on the source`;
    if (t.maxCapacity !== undefined && f.maxCapacity !== undefined && t.maxCapacity < f.maxCapacity) return `field ${f.name} has max_capacity ${t.maxCapacity} on the target, ${f.maxCapacity} on the source`;
    if (f.nullable && !t.nullable) return `field ${f.name} is nullable on the source but not on the target`;
  }
  for (const t of actual.fields) {
    if (t.isFunctionOutput || t.isPrimaryKey || copied.some((f) => f.name === t.name)) continue;
    if (!t.nullable && t.defaultValue === undefined) return `field ${t.name} of the target has no value in the source and is neither nullable nor defaulted`;
  }
  if (expected.enableDynamicField && !actual.enableDynamicField) return 'the source has a dynamic field and the target has none';
  const pk = actual.fields.find((f) => f.isPrimaryKey);
  if (pk && keyOrigin(actual) === 'generated' && keyOrigin(expected) !== 'generated') return `primary key ${pk.name} is autoID on the target, which would not keep the source's keys`;
  return undefined;
}
