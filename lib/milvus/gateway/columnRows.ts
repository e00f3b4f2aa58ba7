import protobuf from 'protobufjs/minimal.js';
import type { RawFieldData } from './protoWire';
import { decodeRows, type Row } from './rowCodec';

/**
 * The rows of a query reply's columns as byte ranges, without decoding a value: for each row of a
 * FieldData, where its value lies in the reply (or that it is null). The sync hashes rows from
 * these (lib/sync/rowDigest.ts) and decodes only the rows it writes.
 *
 * Wire layout (schema.proto): FieldData type=1 scalars=3 vectors=4 valid_data=7.
 *   ScalarField: one of bool_data=1 int_data=2 long_data=3 (varints), float_data=4 (fixed32),
 *     double_data=5 (fixed64), string_data=6 bytes_data=7 array_data=8 json_data=9 geometry_data=10
 *     (one length-delimited entry a row), timestamptz_data=11 (varints); each an XArray{data=1}.
 *   VectorField: dim=1, float_vector=2 (FloatArray{data=1}: dim fixed32 a row), binary_vector=3
 *     (dim/8 bytes a row), float16_vector=4 bfloat16_vector=5 (2·dim), sparse_float_vector=6
 *     (SparseFloatArray{contents=1}: an entry a row), int8_vector=7 (dim).
 * A nullable field carries valid_data, and its values either for every row or for the valid rows only.
 */

const { Reader } = protobuf;
const WIRE_VARINT = 0;
const WIRE_LEN = 2;

export interface FieldRows {
  /** The reply holding the bytes. */
  buf: Buffer;
  /** Row i's value is buf[starts[i], ends[i]); starts[i] < 0: null. */
  starts: Int32Array;
  ends: Int32Array;
  /** JSON text (json_data): equal values may be spelled differently, so the caller parses it. */
  json: boolean;
}

interface Span {
  start: number;
  end: number;
}

function readSpan(r: protobuf.Reader): Span {
  const len = r.uint32();
  const start = r.pos;
  r.skip(len);
  return { start, end: start + len };
}

/** A reader over buf[span). */
function over(buf: Buffer, span: Span): protobuf.Reader {
  const r = Reader.create(buf.subarray(0, span.end));
  r.pos = span.start;
  return r;
}

/** Element byte ranges of a repeated field 1 of a message at `span`: packed runs split by `width` (0: varints), or an entry each. */
function elements(buf: Buffer, span: Span, width: number | null, out: Span[]): void {
  const r = over(buf, span);
  while (r.pos < span.end) {
    const tag = r.uint32();
    const wire = tag & 7;
    if (tag >>> 3 !== 1) {
      r.skipType(wire);
      continue;
    }
    if (wire === WIRE_LEN) {
      const s = readSpan(r);
      if (width === null) out.push(s);
      else if (width === 0) {
        for (let i = s.start, at = s.start; i < s.end; i++) {
          if ((buf[i]! & 0x80) === 0) {
            out.push({ start: at, end: i + 1 });
            at = i + 1;
          }
        }
      } else for (let at = s.start; at + width <= s.end; at += width) out.push({ start: at, end: at + width });
    } else {
      const start = r.pos;
      r.skipType(wire);
      out.push({ start, end: r.pos });
    }
  }
}

/** Per-scalar-kind element width: 0 varint, n fixed bytes, null one entry a value. */
const SCALAR_WIDTH: Record<number, number | null> = { 1: 0, 2: 0, 3: 0, 4: 4, 5: 8, 6: null, 7: null, 8: null, 9: null, 10: null, 11: 0, 12: null };

function scalarValues(buf: Buffer, span: Span): { values: Span[]; json: boolean } | null {
  const r = over(buf, span);
  while (r.pos < span.end) {
    const tag = r.uint32();
    const kind = tag >>> 3;
    if ((tag & 7) === WIRE_LEN && kind in SCALAR_WIDTH) {
      const values: Span[] = [];
      elements(buf, readSpan(r), SCALAR_WIDTH[kind]!, values);
      return { values, json: kind === 9 };
    }
    r.skipType(tag & 7);
  }
  return { values: [], json: false };
}

function vectorValues(buf: Buffer, span: Span): Span[] | null {
  const r = over(buf, span);
  let dim = 0;
  let data: { kind: number; span: Span } | null = null;
  while (r.pos < span.end) {
    const tag = r.uint32();
    const kind = tag >>> 3;
    if (kind === 1 && (tag & 7) === WIRE_VARINT) dim = Number(r.int64());
    else if ((tag & 7) === WIRE_LEN && kind >= 2 && kind <= 7) data = { kind, span: readSpan(r) };
    else r.skipType(tag & 7);
  }
  if (!data) return [];
  const values: Span[] = [];
  if (data.kind === 2) {
    // FloatArray{data=1 packed}: its floats, then dim of them a row.
    const floats: Span[] = [];
    elements(buf, data.span, null, floats);
    for (const run of floats) {
      if ((run.end - run.start) % (4 * dim) !== 0) return null;
      for (let at = run.start; at < run.end; at += 4 * dim) values.push({ start: at, end: at + 4 * dim });
    }
    return values;
  }
  if (data.kind === 6) {
    elements(buf, data.span, null, values);
    return values;
  }
  const width = data.kind === 3 ? Math.ceil(dim / 8) : data.kind === 7 ? dim : 2 * dim;
  if (width <= 0 || (data.span.end - data.span.start) % width !== 0) return null;
  for (let at = data.span.start; at < data.span.end; at += width) values.push({ start: at, end: at + width });
  return values;
}

/** Whether each row is valid (valid_data), or null when the field has none. */
function validity(buf: Buffer, spans: Span[]): boolean[] | null {
  if (spans.length === 0) return null;
  const valid: boolean[] = [];
  for (const s of spans) {
    const r = over(buf, s);
    while (r.pos < s.end) valid.push(r.bool());
  }
  return valid;
}

/**
 * The byte range of each of `rowCount` rows of a FieldData; null when its layout is not one this
 * reads (a vector array, a struct), and the caller then decodes the rows.
 */
export function fieldRows(field: RawFieldData, rowCount: number): FieldRows | null {
  const { buf } = field;
  let values: Span[] | null = [];
  let json = false;
  const validSpans: Span[] = [];
  for (const chunk of field.chunks) {
    // Chunks are runs of whole top-level fields of the FieldData, in the reply's buffer.
    const start = chunk.byteOffset - buf.byteOffset;
    const r = over(buf, { start, end: start + chunk.length });
    const end = start + chunk.length;
    while (r.pos < end) {
      const tag = r.uint32();
      const kind = tag >>> 3;
      const wire = tag & 7;
      if (kind === 3 && wire === WIRE_LEN) {
        const scalars = scalarValues(buf, readSpan(r));
        if (!scalars) return null;
        values = scalars.values;
        json = scalars.json;
      } else if (kind === 4 && wire === WIRE_LEN) {
        values = vectorValues(buf, readSpan(r));
        if (!values) return null;
      } else if (kind === 7) {
        if (wire === WIRE_LEN) validSpans.push(readSpan(r));
        else {
          const s = r.pos;
          r.skipType(wire);
          validSpans.push({ start: s, end: r.pos });
        }
      } else if (kind === 8) return null; // struct arrays
      else r.skipType(wire);
    }
  }
  const valid = validity(buf, validSpans);
  const starts = new Int32Array(rowCount).fill(-1);
  const ends = new Int32Array(rowCount).fill(-1);
  if (values.length === rowCount) {
    for (let i = 0; i < rowCount; i++) {
      if (valid && !valid[i]) continue;
      starts[i] = values[i]!.start;
      ends[i] = values[i]!.end;
    }
  } else if (valid && valid.length === rowCount && values.length === valid.filter(Boolean).length) {
    // Values of the valid rows only.
    for (let i = 0, v = 0; i < rowCount; i++) {
      if (!valid[i]) continue;
      starts[i] = values[v]!.start;
      ends[i] = values[v++]!.end;
    }
  } else return null;
  return { buf, starts, ends, json };
}

/** The rows of a query reply whose columns these are, as `client.query()` gives them (decoded). */
export function decodeColumnRows(fields: RawFieldData[]): Row[] {
  if (fields.length === 0) return [];
  return decodeRows(fields[0]!.buf).data;
}
