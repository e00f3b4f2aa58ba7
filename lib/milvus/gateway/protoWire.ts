import protobuf from 'protobufjs/minimal.js';
import type { MilvusStatus } from '../status';

/**
 * Just enough of the Milvus wire format (milvus.proto, schema.proto, common.proto of the SDK's
 * bundled Milvus 3.0 protos) to move query results into insert requests as bytes. Field numbers:
 *
 *   QueryRequest   db_name=2 collection_name=3 expr=4 output_fields=5 query_params=9 (KeyValuePair key=1 value=2)
 *                  consistency_level=11 (Strong=0, the proto default)
 *   QueryResults   status=1 fields_data=2 (repeated FieldData) ...
 *   InsertRequest  db_name=2 collection_name=3 fields_data=5 num_rows=7
 *   MutationResult status=1 err_index=4 insert_cnt=6
 *   FieldData      type=1 field_name=2 scalars=3 vectors=4 field_id=5 is_dynamic=6 valid_data=7 struct_arrays=8
 *   ScalarField    long_data=3 (LongArray data=1 packed int64) string_data=6 (StringArray data=1)
 *   Status         error_code=1 reason=2 code=3 retriable=4 detail=5
 *
 * Nothing else is decoded: vectors, JSON, arrays, sparse rows and valid_data travel as the bytes
 * the source sent.
 */

const { Reader, Writer } = protobuf;
type ReaderT = protobuf.Reader;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** ErrorCode names status.ts looks at (common.proto); others stay numbers. */
const ERROR_CODE_NAMES: Record<number, string> = {
  0: 'Success',
  4: 'CollectionNotExists',
  49: 'RateLimit',
  56: 'NotReadyServe',
  57: 'NotReadyCoordActivating',
};

/** A slice of a message: [start, end) in `buf`. */
interface Span {
  start: number;
  end: number;
}

function readLen(r: ReaderT): Span {
  const len = r.uint32();
  const start = r.pos;
  r.skip(len);
  return { start, end: start + len };
}

export function decodeStatus(buf: Uint8Array): MilvusStatus {
  const r = Reader.create(buf);
  const status: MilvusStatus = { error_code: 'Success', code: 0, reason: '' };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: {
        const n = r.int32();
        status.error_code = ERROR_CODE_NAMES[n] ?? n;
        break;
      }
      case 2:
        status.reason = r.string();
        break;
      case 3:
        status.code = r.int32();
        break;
      case 4:
        status.retriable = r.bool();
        break;
      case 5:
        status.detail = r.string();
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return status;
}

export interface QueryRequestFields {
  dbName: string;
  collectionName: string;
  expr: string;
  outputFields: string[];
  limit: number;
  offset: number;
  /** Read only this partition (absent: the whole collection). */
  partition?: string;
}

/** A QueryRequest with Strong consistency (the proto default, so not written). */
export function encodeQueryRequest(q: QueryRequestFields): Buffer {
  const w = Writer.create();
  if (q.dbName) w.uint32((2 << 3) | WIRE_LEN).string(q.dbName);
  w.uint32((3 << 3) | WIRE_LEN).string(q.collectionName);
  if (q.expr) w.uint32((4 << 3) | WIRE_LEN).string(q.expr);
  for (const f of q.outputFields) w.uint32((5 << 3) | WIRE_LEN).string(f);
  if (q.partition) w.uint32((6 << 3) | WIRE_LEN).string(q.partition);
  const params: Array<[string, string]> = [['limit', String(q.limit)]];
  if (q.offset > 0) params.push(['offset', String(q.offset)]);
  for (const [key, value] of params) {
    w.uint32((9 << 3) | WIRE_LEN).fork().uint32((1 << 3) | WIRE_LEN).string(key).uint32((2 << 3) | WIRE_LEN).string(value).ldelim();
  }
  return Buffer.from(w.finish());
}

/** One FieldData of a query result, as bytes, with what the copy needs to know about it. */
export interface RawFieldData {
  name: string;
  isDynamic: boolean;
  /** The FieldData re-serialized without field_id (the target's ids need not match the source's). */
  chunks: Buffer[];
  bytes: number;
  /** ScalarField span, for the primary key. */
  scalars: Span | null;
  buf: Buffer;
}

export interface QueryReply {
  status: MilvusStatus;
  fields: RawFieldData[];
}

export function parseQueryResults(buf: Buffer): QueryReply {
  const r = Reader.create(buf);
  let status: MilvusStatus = { error_code: 'Success', code: 0 };
  const fields: RawFieldData[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === WIRE_LEN) {
      const s = readLen(r);
      status = decodeStatus(buf.subarray(s.start, s.end));
    } else if (field === 2 && (tag & 7) === WIRE_LEN) {
      const s = readLen(r);
      fields.push(parseFieldData(buf, s));
    } else {
      r.skipType(tag & 7);
    }
  }
  return { status, fields };
}

export function parseFieldData(buf: Buffer, span: Span): RawFieldData {
  const r = Reader.create(buf.subarray(0, span.end));
  r.pos = span.start;
  const out: RawFieldData = { name: '', isDynamic: false, chunks: [], bytes: 0, scalars: null, buf };
  // Top-level fields are copied as byte ranges (tag included); only field_id is left out.
  let runStart = span.start;
  while (r.pos < span.end) {
    const at = r.pos;
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 2 && (tag & 7) === WIRE_LEN) {
      out.name = r.string();
    } else if (field === 3 && (tag & 7) === WIRE_LEN) {
      out.scalars = readLen(r);
    } else if (field === 5) {
      if (at > runStart) out.chunks.push(buf.subarray(runStart, at));
      r.skipType(tag & 7);
      runStart = r.pos;
    } else if (field === 6 && (tag & 7) === WIRE_VARINT) {
      out.isDynamic = r.bool();
    } else {
      r.skipType(tag & 7);
    }
  }
  if (span.end > runStart) out.chunks.push(buf.subarray(runStart, span.end));
  out.bytes = out.chunks.reduce((n, c) => n + c.length, 0);
  return out;
}

/**
 * Row count and last value of a primary key column (Int64 as a decimal string); every value too
 * when `all` is set (the key-range engine needs them only to page past a key no filter can hold).
 */
export function primaryKeyColumn(field: RawFieldData, all = false): { count: number; last: string | null; keys?: string[] } {
  const keys: string[] | undefined = all ? [] : undefined;
  if (!field.scalars) return { count: 0, last: null, ...(keys ? { keys } : {}) };
  const { buf } = field;
  const r = Reader.create(buf.subarray(0, field.scalars.end));
  r.pos = field.scalars.start;
  let count = 0;
  let last: string | null = null;
  while (r.pos < field.scalars.end) {
    const tag = r.uint32();
    const kind = tag >>> 3;
    if ((kind === 3 || kind === 6) && (tag & 7) === WIRE_LEN) {
      const arr = readLen(r);
      const a = Reader.create(buf.subarray(0, arr.end));
      a.pos = arr.start;
      while (a.pos < arr.end) {
        const t = a.uint32();
        if (t >>> 3 !== 1) {
          a.skipType(t & 7);
          continue;
        }
        if (kind === 6) {
          last = a.string();
          keys?.push(last);
          count += 1;
        } else if ((t & 7) === WIRE_LEN) {
          // Packed int64s: count the varints, decode only the last.
          const packed = readLen(a);
          let lastStart = packed.start;
          for (let i = packed.start; i < packed.end; i++) {
            if ((buf[i] & 0x80) === 0) {
              count += 1;
              keys?.push(varintToInt64(buf, lastStart));
              if (i + 1 < packed.end) lastStart = i + 1;
            }
          }
          if (packed.end > packed.start) last = varintToInt64(buf, lastStart);
        } else {
          const s = a.pos;
          a.skipType(WIRE_VARINT);
          last = varintToInt64(buf, s);
          keys?.push(last);
          count += 1;
        }
      }
    } else {
      r.skipType(tag & 7);
    }
  }
  return { count, last, ...(keys ? { keys } : {}) };
}

function varintToInt64(buf: Uint8Array, at: number): string {
  let v = 0n;
  let shift = 0n;
  for (let i = at; ; i++) {
    const b = buf[i];
    v |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7n;
  }
  return BigInt.asIntN(64, v).toString();
}

/** An InsertRequest from FieldData byte chunks: one copy of the payload, no re-encoding. */
export function encodeInsertRequest(dbName: string, collectionName: string, fields: RawFieldData[], numRows: number, partition?: string): Buffer {
  const head = Writer.create();
  if (dbName) head.uint32((2 << 3) | WIRE_LEN).string(dbName);
  head.uint32((3 << 3) | WIRE_LEN).string(collectionName);
  if (partition) head.uint32((4 << 3) | WIRE_LEN).string(partition);
  const parts: Uint8Array[] = [head.finish()];
  let total = parts[0].length;
  for (const f of fields) {
    const prefix = Writer.create().uint32((5 << 3) | WIRE_LEN).uint32(f.bytes).finish();
    parts.push(prefix, ...f.chunks);
    total += prefix.length + f.bytes;
  }
  const tail = Writer.create().uint32((7 << 3) | WIRE_VARINT).uint32(numRows).finish();
  parts.push(tail);
  total += tail.length;
  return Buffer.concat(parts, total);
}

export interface MutationReply {
  status: MilvusStatus;
  insertCount: number;
  errIndexCount: number;
}

export function parseMutationResult(buf: Buffer): MutationReply {
  const r = Reader.create(buf);
  const out: MutationReply = { status: { error_code: 'Success', code: 0 }, insertCount: 0, errIndexCount: 0 };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === WIRE_LEN) {
      const s = readLen(r);
      out.status = decodeStatus(buf.subarray(s.start, s.end));
    } else if (field === 4) {
      if ((tag & 7) === WIRE_LEN) {
        const s = readLen(r);
        for (let i = s.start; i < s.end; i++) if ((buf[i] & 0x80) === 0) out.errIndexCount += 1;
      } else {
        r.skipType(tag & 7);
        out.errIndexCount += 1;
      }
    } else if (field === 6 && (tag & 7) === WIRE_VARINT) {
      out.insertCount = Number(varintToInt64(buf, r.pos));
      r.skipType(WIRE_VARINT);
    } else {
      r.skipType(tag & 7);
    }
  }
  return out;
}
