import { errors } from './status';

/**
 * Columnar FieldData <-> stored row values.
 *
 * Stored representation of one value (null when the field is null):
 * Bool boolean; Int8/Int16/Int32/Float/Double number; Int64 decimal string; VarChar/String/Text string;
 * JSON and `$meta` the raw JSON bytes (Buffer); Array the element ScalarField object as received;
 * FloatVector number[]; BinaryVector/Float16Vector/BFloat16Vector/Int8Vector a Buffer of one row;
 * SparseFloatVector the row's Buffer of (uint32 index, float32 value) little-endian pairs.
 */
const VECTOR_TYPES = new Set(['BinaryVector', 'FloatVector', 'Float16Vector', 'BFloat16Vector', 'SparseFloatVector', 'Int8Vector']);

const SCALAR_KEY: Record<string, string> = {
  Bool: 'bool_data',
  Int8: 'int_data',
  Int16: 'int_data',
  Int32: 'int_data',
  Int64: 'long_data',
  Float: 'float_data',
  Double: 'double_data',
  String: 'string_data',
  VarChar: 'string_data',
  Text: 'string_data',
  Array: 'array_data',
  JSON: 'json_data',
};

const VECTOR_KEY: Record<string, string> = {
  FloatVector: 'float_vector',
  BinaryVector: 'binary_vector',
  Float16Vector: 'float16_vector',
  BFloat16Vector: 'bfloat16_vector',
  SparseFloatVector: 'sparse_float_vector',
  Int8Vector: 'int8_vector',
};

export const META = '$meta';

export function isVectorType(type: string): boolean {
  return VECTOR_TYPES.has(type);
}

export function isSupportedType(type: string): boolean {
  return type in SCALAR_KEY || type in VECTOR_KEY;
}

export function typeParam(field: any, key: string): string | undefined {
  return (field.type_params ?? []).find((p: any) => p.key === key)?.value;
}

function dimOf(field: any): number {
  return Number(typeParam(field, 'dim') ?? 0);
}

/** Bytes of one row of a fixed-size byte vector. */
function rowBytes(type: string, dim: number): number {
  if (type === 'BinaryVector') return dim / 8;
  if (type === 'Int8Vector') return dim;
  return dim * 2; // float16, bfloat16
}

/** Value of a field's default_value (ValueField oneof), or undefined when none. */
export function defaultValueOf(field: any): unknown {
  const dv = field.default_value;
  if (!dv || !dv.data) return undefined;
  return dv[dv.data];
}

/** Decodes one insert column into `n` row values (null where valid_data says so). */
export function decodeColumn(fd: any, field: any, n: number): unknown[] {
  let physical: unknown[];
  const type: string = field ? field.data_type : 'JSON';
  if (fd.scalars) {
    const key = fd.scalars.data as string;
    if (key !== SCALAR_KEY[type]) throw errors.invalid(`field ${fd.field_name}: expected ${SCALAR_KEY[type]}, got ${key}`);
    physical = [...(fd.scalars[key]?.data ?? [])];
  } else if (fd.vectors) {
    const key = fd.vectors.data as string;
    if (key !== VECTOR_KEY[type]) throw errors.invalid(`field ${fd.field_name}: expected ${VECTOR_KEY[type]}, got ${key}`);
    const dim = dimOf(field);
    if (type === 'SparseFloatVector') physical = [...fd.vectors.sparse_float_vector.contents];
    else if (type === 'FloatVector') {
      const flat: number[] = fd.vectors.float_vector.data;
      if (flat.length % dim !== 0) throw errors.invalid(`the dim (${dim}) of field data(${field.name}) is not equal to schema dim`);
      physical = [];
      for (let i = 0; i < flat.length; i += dim) physical.push(flat.slice(i, i + dim));
    } else {
      const buf: Buffer = fd.vectors[key];
      const size = rowBytes(type, dim);
      if (buf.length % size !== 0) throw errors.invalid(`the dim (${dim}) of field data(${field.name}) is not equal to schema dim`);
      physical = [];
      for (let i = 0; i < buf.length; i += size) physical.push(Buffer.from(buf.subarray(i, i + size)));
    }
  } else {
    throw errors.invalid(`field ${fd.field_name}: unsupported field data`);
  }
  const valid: boolean[] = fd.valid_data ?? [];
  let values: unknown[];
  if (valid.length && !valid.every(Boolean)) {
    const dense = physical.length === valid.length;
    let j = 0;
    values = valid.map((v, i) => (v ? physical[dense ? i : j++] : null));
  } else {
    values = physical;
  }
  if (values.length !== n)
    throw errors.invalid(`the num_rows (${n}) of field (${fd.field_name}) is not equal to passed num_rows (${values.length})`);
  return values;
}

function zeroOf(type: string): unknown {
  switch (type) {
    case 'Bool':
      return false;
    case 'Int64':
      return '0';
    case 'VarChar':
    case 'String':
    case 'Text':
      return '';
    case 'JSON':
      return Buffer.alloc(0);
    case 'Array':
      return {};
    default:
      return 0;
  }
}

/** Sparse dim: max index + 1 over the rows. */
function sparseDim(rows: Buffer[]): number {
  let max = -1;
  for (const r of rows) for (let i = 0; i + 8 <= r.length; i += 8) max = Math.max(max, r.readUInt32LE(i));
  return max + 1;
}

/** Encodes stored values of one field as a query-result FieldData (row-dense scalars, compact vectors). */
export function encodeColumn(field: any, values: unknown[]): Record<string, unknown> {
  const type: string = field.data_type;
  const base = {
    type,
    field_name: field.name,
    field_id: field.fieldID ?? '0',
    is_dynamic: Boolean(field.is_dynamic),
    valid_data: field.nullable ? values.map((v) => v !== null && v !== undefined) : [],
  };
  if (type in SCALAR_KEY) {
    const key = SCALAR_KEY[type];
    const data = values.map((v) => (v === null || v === undefined ? zeroOf(type) : v));
    const inner = key === 'array_data' ? { data, element_type: field.element_type } : { data };
    return { ...base, scalars: { [key]: inner } };
  }
  const present = values.filter((v) => v !== null && v !== undefined);
  const dim = dimOf(field);
  switch (type) {
    case 'FloatVector':
      return { ...base, vectors: { dim: String(dim), float_vector: { data: (present as number[][]).flat() } } };
    case 'SparseFloatVector': {
      const d = String(sparseDim(present as Buffer[]));
      return { ...base, vectors: { dim: d, sparse_float_vector: { dim: d, contents: present } } };
    }
    default:
      return { ...base, vectors: { dim: String(dim), [VECTOR_KEY[type]]: Buffer.concat(present as Buffer[]) } };
  }
}
