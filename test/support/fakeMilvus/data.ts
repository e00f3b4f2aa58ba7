import { errors, ok } from './status';
import { type Collection, type Partition, type Row, collectionOf, dbOf } from './state';
import type { Handlers } from './handlers';
import { META, decodeColumn, defaultValueOf, encodeColumn, isSupportedType, typeParam } from './fieldData';
import { type Resolve, type Value, compareValues, parseExpression } from './expressions';
import { hasPartitionKey } from './partitions';

const MAX_QUERY_WINDOW = 16384;
const COUNT = 'count(*)';

function pkField(coll: Collection): any {
  return coll.schema.fields.find((f: any) => f.is_primary_key);
}

function pkValue(coll: Collection, row: Row): Value {
  const v = row[pkField(coll).name] as string;
  return pkField(coll).data_type === 'Int64' ? BigInt(v) : v;
}

/** Stable small hash of a partition key value (not Milvus's murmur3: which partition a row lands in differs). */
function hashKey(value: unknown): number {
  let h = 2166136261;
  for (const byte of Buffer.from(String(value), 'utf8')) h = Math.imul(h ^ byte, 16777619) >>> 0;
  return h;
}

function targetPartition(coll: Collection, partitionName: string, row: Row): Partition {
  if (hasPartitionKey(coll)) {
    if (partitionName) throw errors.invalid('not support manually specifying the partition names if partition key mode is used');
    const key = coll.schema.fields.find((f: any) => f.is_partition_key);
    const index = hashKey(row[key.name]) % coll.num_partitions;
    return coll.partitions.get(`_default_${index}`)!;
  }
  const name = partitionName || '_default';
  const p = coll.partitions.get(name);
  if (!p) throw errors.partitionNotFound(name);
  return p;
}

/** Decodes an Insert/Upsert request into rows, filling autoID keys, defaults and nulls like the proxy. */
function decodeRows(coll: Collection, req: any, upsert: boolean): { rows: Row[]; oldKeys: string[] } {
  const n = Number(req.num_rows);
  const columns = new Map<string, any>((req.fields_data ?? []).map((fd: any) => [fd.field_name, fd]));
  const rows: Row[] = Array.from({ length: n }, () => ({}));
  const allowAutoIdInsert = coll.properties.some((p) => p.key === 'allow_insert_auto_id' && p.value === 'true');
  let oldKeys: string[] = [];
  for (const field of coll.schema.fields) {
    const fd = columns.get(field.name);
    columns.delete(field.name);
    if (field.is_function_output) {
      if (fd) throw errors.invalid(`attempt to insert function output field ${field.name}`);
      continue;
    }
    if (!isSupportedType(field.data_type)) throw errors.invalid(`fake Milvus: data type ${field.data_type} not supported`);
    if (field.is_primary_key && field.autoID && !(allowAutoIdInsert && fd)) {
      if (upsert && fd) oldKeys = decodeColumn(fd, field, n).map(String);
      else if (fd && !upsert) throw errors.invalid(`maybe the primary key field ${field.name} is autoID but data of it is provided`);
      for (const r of rows) r[field.name] = String(coll.nextAutoId++);
      continue;
    }
    if (!fd) {
      if (!field.nullable && defaultValueOf(field) === undefined)
        throw errors.invalid(`fieldSchema(${field.name}) has no corresponding fieldData pass in`);
    }
    const values = fd ? decodeColumn(fd, field, n) : Array(n).fill(null);
    const maxLength = Number(typeParam(field, 'max_length') ?? Infinity);
    values.forEach((v, i) => {
      let value = v;
      if (value === null || value === undefined) {
        const dv = defaultValueOf(field);
        if (dv !== undefined) value = dv;
        else if (field.nullable) value = null;
        else throw errors.invalid(`the value of field ${field.name} at row ${i} is null but the field is not nullable`);
      }
      if (field.data_type === 'VarChar' && typeof value === 'string' && Buffer.byteLength(value) > maxLength)
        throw errors.invalid(`length of varchar field ${field.name} exceeds max length, row number: ${i}, length: ${Buffer.byteLength(value)}, max length: ${maxLength}`);
      rows[i][field.name] = value;
    });
  }
  const meta = columns.get(META);
  columns.delete(META);
  if (coll.schema.enable_dynamic_field) {
    const values = meta ? decodeColumn(meta, undefined, n) : Array(n).fill(null);
    values.forEach((v, i) => (rows[i][META] = v && (v as Buffer).length ? v : Buffer.from('{}')));
  } else if (meta) {
    throw errors.invalid('Attempt to insert an unexpected field `$meta` to collection without enabling dynamic field');
  }
  for (const name of columns.keys())
    throw errors.invalid(`Attempt to insert an unexpected field \`${name}\` to collection without enabling dynamic field`);
  return { rows, oldKeys };
}

function mutationResult(coll: Collection, keys: string[], counts: { insert?: number; delete?: number; upsert?: number }) {
  const ids = pkField(coll).data_type === 'Int64' ? { int_id: { data: keys } } : { str_id: { data: keys } };
  return {
    status: ok(),
    IDs: ids,
    succ_index: counts.delete ? [] : keys.map((_, i) => i),
    err_index: [],
    acknowledged: false,
    insert_cnt: String(counts.insert ?? 0),
    delete_cnt: String(counts.delete ?? 0),
    upsert_cnt: String(counts.upsert ?? 0),
    timestamp: String(BigInt(Date.now()) << 18n),
  };
}

function removeKey(coll: Collection, key: string): Row | undefined {
  for (const p of coll.partitions.values()) {
    const row = p.rows.get(key);
    if (row) {
      p.rows.delete(key);
      return row;
    }
  }
  return undefined;
}

function resolver(coll: Collection, row: Row): Resolve {
  let meta: Record<string, unknown> | undefined;
  return (name) => {
    const field = coll.schema.fields.find((f: any) => f.name === name);
    if (field) return { value: (row[name] ?? null) as Value, type: field.data_type };
    if (!coll.schema.enable_dynamic_field) throw errors.invalid(`field ${name} not exist`);
    meta ??= JSON.parse(((row[META] as Buffer) ?? Buffer.from('{}')).toString() || '{}');
    const v = meta![name];
    return { value: typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : ((v ?? null) as Value), type: 'JSON' };
  };
}

function partitionsOf(coll: Collection, names: string[]): Partition[] {
  if (!names?.length) return [...coll.partitions.values()];
  if (hasPartitionKey(coll)) throw errors.invalid('not support manually specifying the partition names if partition key mode is used');
  return names.map((n) => {
    const p = coll.partitions.get(n);
    if (!p) throw errors.partitionNotFound(n);
    return p;
  });
}

function matchingRows(coll: Collection, partitions: Partition[], expr: string): Row[] {
  const pred = parseExpression(expr);
  const out: Row[] = [];
  for (const p of partitions) for (const row of p.rows.values()) if (pred(resolver(coll, row))) out.push(row);
  return out;
}

function outputFields(coll: Collection, requested: string[]): { fields: any[]; dynamicKeys: string[] | 'all' | null } {
  const fields: any[] = [];
  let dynamicKeys: string[] | 'all' | null = null;
  const add = (f: any) => fields.includes(f) || fields.push(f);
  const pk = pkField(coll);
  for (const name of requested) {
    if (name === '*') {
      coll.schema.fields.filter((f: any) => !f.is_function_output).forEach(add);
      if (coll.schema.enable_dynamic_field) dynamicKeys = 'all';
    } else if (name === META) {
      if (!coll.schema.enable_dynamic_field) throw errors.invalid(`field ${name} not exist`);
      dynamicKeys = 'all';
    } else {
      const f = coll.schema.fields.find((x: any) => x.name === name);
      if (f) {
        if (f.is_function_output && !['FloatVector', 'Int8Vector'].includes(f.data_type))
          throw errors.invalid(`not allowed to retrieve raw data of field ${name}`);
        add(f);
      } else if (coll.schema.enable_dynamic_field) {
        if (dynamicKeys !== 'all') dynamicKeys = [...(dynamicKeys ?? []), name];
      } else {
        throw errors.invalid(`field ${name} not exist`);
      }
    }
  }
  // primary key first, then the other fields by name (the order milvus-lite answers in)
  const rest = fields.filter((f) => f !== pk).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { fields: [pk, ...rest], dynamicKeys };
}

function queryParam(req: any, key: string): string | undefined {
  return (req.query_params ?? []).find((p: any) => p.key === key)?.value;
}

export const dataHandlers: Handlers = {
  Insert(req, ctx) {
    const coll = collectionOf(ctx, req);
    const { rows } = decodeRows(coll, req, false);
    const pk = pkField(coll).name;
    const targets = rows.map((row) => targetPartition(coll, req.partition_name, row));
    rows.forEach((row, i) => targets[i].rows.set(String(row[pk]), row));
    return mutationResult(coll, rows.map((r) => String(r[pk])), { insert: rows.length });
  },
  Upsert(req, ctx) {
    const coll = collectionOf(ctx, req);
    const { rows, oldKeys } = decodeRows(coll, req, true);
    const pk = pkField(coll).name;
    const targets = rows.map((row) => targetPartition(coll, req.partition_name, row));
    for (const k of oldKeys) removeKey(coll, k);
    rows.forEach((row, i) => {
      const previous = removeKey(coll, String(row[pk]));
      const merged = req.partial_update && previous ? { ...previous, ...row } : row;
      targets[i].rows.set(String(row[pk]), merged);
    });
    return mutationResult(coll, rows.map((r) => String(r[pk])), { upsert: rows.length, insert: rows.length });
  },
  Delete(req, ctx) {
    const coll = collectionOf(ctx, req);
    if (!req.expr?.trim()) throw errors.invalid('expr cannot be empty');
    const partitions = req.partition_name ? partitionsOf(coll, [req.partition_name]) : [...coll.partitions.values()];
    const pk = pkField(coll).name;
    const victims = matchingRows(coll, partitions, req.expr);
    for (const row of victims) for (const p of partitions) p.rows.delete(String(row[pk]));
    return mutationResult(coll, victims.map((r) => String(r[pk])), { delete: victims.length });
  },
  Flush(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    const names: string[] = req.collection_names ?? [];
    for (const n of names) collectionOf(ctx, { db_name: req.db_name, collection_name: n });
    const now = String(Math.floor(Date.now() / 1000));
    return {
      status: ok(),
      db_name: db.name,
      coll_segIDs: Object.fromEntries(names.map((n) => [n, { data: [] }])),
      flush_coll_segIDs: Object.fromEntries(names.map((n) => [n, { data: [] }])),
      coll_seal_times: Object.fromEntries(names.map((n) => [n, now])),
      coll_flush_ts: Object.fromEntries(names.map((n) => [n, String(BigInt(Date.now()) << 18n)])),
      channel_cps: {},
    };
  },
  GetFlushState() {
    return { status: ok(), flushed: true };
  },
  Query(req, ctx) {
    const coll = collectionOf(ctx, req);
    if (coll.loadedReplicas === null) throw errors.collectionNotLoaded(coll.name);
    const requested: string[] = req.output_fields ?? [];
    const rows = matchingRows(coll, partitionsOf(coll, req.partition_names), req.expr ?? '');
    if (requested.some((f) => f.toLowerCase() === COUNT)) {
      return {
        status: ok(),
        fields_data: [{ type: 'Int64', field_name: COUNT, field_id: '0', is_dynamic: false, valid_data: [], scalars: { long_data: { data: [String(rows.length)] } } }],
        collection_name: coll.name,
        output_fields: [COUNT],
        primary_field_name: pkField(coll).name,
      };
    }
    const limit = queryParam(req, 'limit');
    const offset = Number(queryParam(req, 'offset') ?? 0);
    if (!req.expr?.trim() && limit === undefined) throw errors.invalid('empty expression should be used with limit');
    if (limit !== undefined && (Number(limit) + offset > MAX_QUERY_WINDOW || Number(limit) <= 0))
      throw errors.invalid(`(offset+limit) should be in range [1, ${MAX_QUERY_WINDOW}]`);
    rows.sort((a, b) => compareValues(pkValue(coll, a), pkValue(coll, b)));
    const page = rows.slice(offset, limit === undefined ? undefined : offset + Number(limit));
    const { fields, dynamicKeys } = outputFields(coll, requested.length ? requested : []);
    const fieldsData = fields.map((f) => encodeColumn(f, page.map((r) => r[f.name] ?? null)));
    if (dynamicKeys) {
      // the dynamic field comes right after the primary key (order measured on milvus-lite)
      const metas = page.map((r) => {
        const raw = (r[META] as Buffer) ?? Buffer.from('{}');
        if (dynamicKeys === 'all') return raw;
        const obj = JSON.parse(raw.toString() || '{}');
        return Buffer.from(JSON.stringify(Object.fromEntries(dynamicKeys.filter((k) => k in obj).map((k) => [k, obj[k]]))));
      });
      fieldsData.splice(1, 0, encodeColumn({ name: META, data_type: 'JSON', fieldID: '0', is_dynamic: true }, metas));
    }
    return {
      status: ok(),
      fields_data: fieldsData,
      collection_name: coll.name,
      output_fields: fieldsData.map((f) => f.field_name),
      primary_field_name: pkField(coll).name,
    };
  },
};
