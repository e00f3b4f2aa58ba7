import { cloneSpec, isDenseFloatVectorType, isVectorType, type CollectionSpec, type FieldSpec, type IndexSpec } from './spec';

export interface TranslateOptions {
  targetName: string;
  indexPolicy: 'autoindex' | 'preserve';
  /** The target accepts explicit PKs on autoID collections (Milvus >= 2.6, allow_insert_auto_id). */
  targetAllowsExplicitAutoId: boolean;
}

export const ALLOW_INSERT_AUTO_ID = 'allow_insert_auto_id';

/**
 * The target collection's spec for a source spec. Pure. The schema is kept as is (names, types,
 * dims, lengths, capacities, defaults, dynamic field, functions); only what the target must do
 * differently changes: the PK's autoID (to keep the source's PK values) and the indexes.
 */
export function translateSchema(source: CollectionSpec, options: TranslateOptions): { spec: CollectionSpec; warnings: string[] } {
  const spec = cloneSpec(source);
  const warnings: string[] = [];
  spec.name = options.targetName;

  const pk = spec.fields.find((f) => f.isPrimaryKey);
  if (pk?.autoId) {
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
export function defaultMetric(field: FieldSpec): string {
  if (field.isFunctionOutput) return 'BM25';
  if (field.dataType === 'SparseFloatVector') return 'IP';
  if (field.dataType === 'BinaryVector') return 'HAMMING';
  if (isDenseFloatVectorType(field.dataType)) return 'COSINE';
  return 'L2'; // Int8Vector
}
