import { hash } from 'node:crypto';
import { fieldRows, type FieldRows, type RawFieldData } from '../milvus/gateway';
import { copiedFields, DYNAMIC_FIELD, type CollectionSpec, type FieldSpec } from '../milvus/spec';

/**
 * Canonical row hashes and an order-independent digest of a set of rows, for the sync's
 * snapshot diff (lib/sync/rangeSync.ts).
 *
 * A row is hashed over the target's copied fields (function outputs such as BM25 are regenerated
 * by the target and never compared), in the target schema's order, plus its dynamic keys (sorted)
 * when the target has the dynamic field. The encoding depends only on the row's content, never on
 * how the SDK happened to spell it: Int64 values as canonical decimals whether they arrived as
 * strings, numbers or bigints, object keys sorted, numbers as float64 bytes, Buffers/Uint8Arrays
 * as bytes, null distinct from missing, and a missing dynamic field the same as an empty one (a
 * row written without dynamic keys reads back with `$meta: {}`).
 *
 * The per-row hash is SHA-256 truncated to 128 bits; a digest is the sum of the row hashes modulo
 * 2^128, so it does not depend on the order in which rows are added.
 *
 * columnHasher hashes the rows of a query reply's columns without decoding them (the sync reads
 * columns: decoding every row cost about 40 µs of CPU a row): per row, each of the same fields'
 * bytes as the reply holds them, a null as a tag, JSON (and the dynamic keys) parsed and encoded
 * as above, since equal JSON values may be spelled differently. A row's hash depends on that row
 * alone, so equal rows hash alike whatever pages they came in. It is not the same hash as
 * rowHasher's: the two sides of a comparison use one or the other, never one each.
 */

export type Row = Record<string, unknown>;

// Type tags: every value is prefixed by one, so different types never encode alike.
const T_MISSING = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_NUMBER = 4;
const T_STRING = 5;
const T_BYTES = 6;
const T_ARRAY = 7;
const T_OBJECT = 8;
const T_INT64 = 9;
const T_NUMBERS = 10;
const T_BIGINT = 11;

/** A growable byte buffer, reused for every row of a hasher. */
class Encoder {
  private buf: Buffer = Buffer.from(new ArrayBuffer(64 * 1024));
  len = 0;

  reset(): void {
    this.len = 0;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    // A fresh ArrayBuffer: byteOffset 0, so float64 views stay aligned.
    const next = Buffer.from(new ArrayBuffer(size));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.len);
    this.len += 8;
  }

  str(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.u32(n);
    this.ensure(n);
    this.buf.write(s, this.len, n, 'utf8');
    this.len += n;
  }

  raw(b: Uint8Array): void {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** src[start, end) as raw() would write it, without a view of it. */
  rawRange(src: Buffer, start: number, end: number): void {
    const n = end - start;
    this.u32(n);
    this.ensure(n);
    src.copy(this.buf, this.len, start, end);
    this.len += n;
  }

  /** Numbers as float64 bytes, through an aligned Float64Array view (zero padding first). */
  numbers(values: ArrayLike<number>): void {
    const n = values.length;
    this.u32(n);
    const pad = (8 - (this.len % 8)) % 8;
    this.ensure(pad + n * 8);
    this.buf.fill(0, this.len, this.len + pad);
    this.len += pad;
    const view = new Float64Array(this.buf.buffer, this.buf.byteOffset + this.len, n);
    if (Array.isArray(values)) {
      for (let i = 0; i < n; i++) view[i] = Number(values[i]);
    } else view.set(values as ArrayLike<number>);
    this.len += n * 8;
  }
}

const isNumberArray = (v: unknown[]): boolean => {
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number') return false;
  return true;
};

/** An Int64 as canonical decimal digits, however the SDK delivered it. */
function int64Text(v: unknown): string | null {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v).toString();
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return BigInt(v.trim()).toString();
  return null;
}

/** Any value, structurally: JSON values, arrays, objects (keys sorted), bytes. */
function encodeValue(e: Encoder, v: unknown): void {
  if (v === undefined) return e.u8(T_MISSING);
  if (v === null) return e.u8(T_NULL);
  switch (typeof v) {
    case 'boolean':
      return e.u8(v ? T_TRUE : T_FALSE);
    case 'number':
      e.u8(T_NUMBER);
      return e.f64(v);
    case 'bigint':
      e.u8(T_BIGINT);
      return e.str(v.toString());
    case 'string':
      e.u8(T_STRING);
      return e.str(v);
  }
  if (v instanceof Uint8Array) {
    e.u8(T_BYTES);
    return e.raw(v);
  }
  if (ArrayBuffer.isView(v)) {
    // Other typed arrays (Float32Array...) hash as the numbers they hold.
    e.u8(T_NUMBERS);
    return e.numbers(v as unknown as ArrayLike<number>);
  }
  if (Array.isArray(v)) {
    e.u8(T_ARRAY);
    e.u32(v.length);
    for (const x of v) encodeValue(e, x);
    return;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    e.u8(T_OBJECT);
    e.u32(keys.length);
    for (const k of keys) {
      e.str(k);
      encodeValue(e, (v as Record<string, unknown>)[k]);
    }
    return;
  }
  // Functions, symbols: never in a query result.
  e.u8(T_STRING);
  e.str(String(v));
}

function encodeInt64(e: Encoder, v: unknown): void {
  const text = int64Text(v);
  if (text === null) return encodeValue(e, v);
  e.u8(T_INT64);
  e.str(text);
}

/** One field's value, by the field's type. */
function encodeField(e: Encoder, field: FieldSpec, v: unknown): void {
  if (v === undefined || v === null) return encodeValue(e, v);
  switch (field.dataType) {
    case 'Int64':
      return encodeInt64(e, v);
    case 'FloatVector':
    case 'Float16Vector':
    case 'BFloat16Vector':
    case 'BinaryVector':
    case 'Int8Vector':
      // Dense vectors as bytes: float64 for number arrays (exact for any float32), raw for byte buffers.
      if (v instanceof Uint8Array) {
        e.u8(T_BYTES);
        return e.raw(v);
      }
      if (Array.isArray(v) && isNumberArray(v)) {
        e.u8(T_NUMBERS);
        return e.numbers(v as number[]);
      }
      return encodeValue(e, v);
    case 'Array':
      if (field.elementType === 'Int64' && Array.isArray(v)) {
        e.u8(T_ARRAY);
        e.u32(v.length);
        for (const x of v) encodeInt64(e, x);
        return;
      }
      return encodeValue(e, v);
    default:
      // Scalars, VarChar, JSON (objects with sorted keys), sparse vectors ({index: value}, sorted keys).
      return encodeValue(e, v);
  }
}

/** A function that hashes rows of `spec` (the target's schema) canonically, as a 128-bit unsigned bigint. */
export function rowHasher(spec: CollectionSpec): (row: Row) => bigint {
  const fields = copiedFields(spec);
  const dynamic = spec.enableDynamicField;
  const e = new Encoder();
  return (row) => {
    e.reset();
    for (const f of fields) encodeField(e, f, row[f.name]);
    if (dynamic) {
      const meta = row[DYNAMIC_FIELD];
      // No dynamic keys: the same as an empty object (what such a row reads back as).
      encodeValue(e, meta === undefined || meta === null ? {} : meta);
    }
    const h = hash('sha256', e.bytes(), 'buffer');
    return (h.readBigUInt64BE(0) << 64n) | h.readBigUInt64BE(8);
  };
}

const hash128 = (bytes: Buffer): bigint => {
  const h = hash('sha256', bytes, 'buffer');
  return (h.readBigUInt64BE(0) << 64n) | h.readBigUInt64BE(8);
};

/** A row's JSON text (a JSON field's, or the dynamic keys'), canonically; text that does not parse, as bytes. */
function encodeJsonText(e: Encoder, rows: FieldRows, i: number): void {
  const text = rows.buf.toString('utf8', rows.starts[i], rows.ends[i]);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    e.u8(T_BYTES);
    return e.rawRange(rows.buf, rows.starts[i]!, rows.ends[i]!);
  }
  encodeValue(e, value);
}

/**
 * A function that hashes the rows of a page of columns (RawFieldData of a query reply) over the
 * fields of `spec` (the target's schema), as 128-bit unsigned bigints; null when a column's layout
 * cannot be split into rows (the caller then decodes the rows and uses rowHasher on both sides).
 */
export function columnHasher(spec: CollectionSpec): (fields: RawFieldData[], rowCount: number) => bigint[] | null {
  const names = copiedFields(spec).map((f) => f.name);
  const dynamic = spec.enableDynamicField;
  const e = new Encoder();
  return (fields, rowCount) => {
    const byName = new Map<string, FieldRows | null>();
    let meta: FieldRows | null = null;
    for (const f of fields) {
      const rows = fieldRows(f, rowCount);
      if (!rows) return null;
      if (f.isDynamic) meta = rows;
      else byName.set(f.name, rows);
    }
    const columns = names.map((n) => byName.get(n) ?? null);
    const out: bigint[] = new Array(rowCount);
    for (let i = 0; i < rowCount; i++) {
      e.reset();
      for (const c of columns) {
        if (!c) e.u8(T_MISSING);
        else if (c.starts[i]! < 0) e.u8(T_NULL);
        else if (c.json) encodeJsonText(e, c, i);
        else {
          e.u8(T_BYTES);
          e.rawRange(c.buf, c.starts[i]!, c.ends[i]!);
        }
      }
      if (dynamic) {
        // No dynamic keys: the same as an empty object (what such a row reads back as).
        if (!meta || meta.starts[i]! < 0) encodeValue(e, {});
        else encodeJsonText(e, meta, i);
      }
      out[i] = hash128(e.bytes());
    }
    return out;
  };
}

const MASK_128 = (1n << 128n) - 1n;

/** The sum of row hashes modulo 2^128: an order-independent digest of a multiset of rows. */
export class RowDigest {
  private sum = 0n;

  add(rowHash: bigint): void {
    this.sum = (this.sum + rowHash) & MASK_128;
  }

  /** 32 hex digits. */
  hex(): string {
    return this.sum.toString(16).padStart(32, '0');
  }
}

/** The digest of a set of rows (tests, small sets). */
export function digestRows(spec: CollectionSpec, rows: Iterable<Row>): string {
  const h = rowHasher(spec);
  const d = new RowDigest();
  for (const row of rows) d.add(h(row));
  return d.hex();
}
