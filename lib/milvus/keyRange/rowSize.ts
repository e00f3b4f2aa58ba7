import { copiedFields, type CollectionSpec, type FieldSpec } from '../spec';

/**
 * The one row-size estimate of the key-range engine: a guess from the schema for the first page,
 * then what each page measured. Batches are sized in bytes and rows from it.
 */

/** Milvus caps: a query returns at most 16,384 rows; an insert request at most 64 MB. */
export const MAX_QUERY_ROWS = 16_384;
export const MAX_BATCH_BYTES = 48 * 1024 * 1024;
export const DEFAULT_BATCH_TIMEOUT_MS = 120_000;

type Row = Record<string, unknown>;

/** Bytes of one value of a field, as it travels on the wire (roughly). */
function valueBytes(field: FieldSpec | undefined, value: unknown): number {
  if (value === null || value === undefined) return 1;
  switch (field?.dataType) {
    case 'FloatVector':
      return (value as unknown[]).length * 4;
    case 'Float16Vector':
    case 'BFloat16Vector':
    case 'BinaryVector':
    case 'Int8Vector':
      return (value as unknown[]).length;
    case 'SparseFloatVector':
      return Object.keys(value as object).length * 8;
    case 'VarChar':
      return (value as string).length + 2;
    case 'Array':
      return (value as unknown[]).reduce<number>((n, v) => n + (typeof v === 'string' ? v.length + 2 : 8), 4);
    case 'JSON':
    case undefined: // $meta
      return JSON.stringify(value).length;
    default:
      return 8;
  }
}

/** Measures a decoded row. */
export function rowSizer(spec: CollectionSpec): (row: Row) => number {
  const fields = new Map(spec.fields.map((f) => [f.name, f]));
  return (row) => {
    let n = 0;
    for (const key in row) n += valueBytes(fields.get(key), row[key]);
    return n;
  };
}

/** A row's size guessed from the schema alone, on the high side: it sizes the first batch only. */
export function estimateRowBytes(spec: CollectionSpec): number {
  let n = spec.enableDynamicField ? 1024 : 0;
  for (const f of copiedFields(spec)) {
    switch (f.dataType) {
      case 'FloatVector':
        n += (f.dim ?? 0) * 4;
        break;
      case 'Float16Vector':
      case 'BFloat16Vector':
        n += (f.dim ?? 0) * 2;
        break;
      case 'BinaryVector':
        n += Math.ceil((f.dim ?? 0) / 8);
        break;
      case 'Int8Vector':
        n += f.dim ?? 0;
        break;
      case 'SparseFloatVector':
        n += 2048;
        break;
      case 'VarChar':
        n += (f.maxLength ?? 65_535) + 2;
        break;
      case 'Array':
        n += (f.maxCapacity ?? 4096) * (f.elementType === 'VarChar' ? (f.maxLength ?? 65_535) + 2 : 8);
        break;
      case 'JSON':
        n += 4096;
        break;
      default:
        n += 8;
    }
  }
  return Math.max(n, 16);
}

/** Rows for the next read: the byte budget over the row size, within `maxRows` and Milvus's caps. */
export function rowsForBudget(batchBytes: number, rowBytes: number, maxRows = MAX_QUERY_ROWS): number {
  const budget = Math.min(batchBytes, MAX_BATCH_BYTES);
  return Math.max(1, Math.min(MAX_QUERY_ROWS, maxRows, Math.floor(budget / Math.max(rowBytes, 1))));
}
