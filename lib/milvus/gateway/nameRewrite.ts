import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { milvusProtoJson } from './rowCodec';

/**
 * Switchover with names mapped: once the capture endpoint sends calls to the target, a call that
 * names a database or collection the job moved under another name is rewritten to the target's
 * names, and replies that name them are mapped back, so applications keep the names they know.
 *
 * The rewriting works on the wire bytes, field by field: only the string fields that name a
 * database or a collection are replaced, every other field (vectors, row data, placeholder groups)
 * is copied as it came, never decoded. Which fields those are is read from the SDK's bundled
 * Milvus protos by field name, so methods added by a newer proto are covered as long as they use
 * Milvus's names (db_name, collection_name, collection_names...).
 */

/** The names a job moved elsewhere, source to target; what is not listed keeps its name. */
export interface TargetNames {
  /** Source database -> target database, for databases moved under another name. */
  databases: Record<string, string>;
  /** Source database -> (source collection -> target collection), for collections moved under another name. */
  collections: Record<string, Record<string, string>>;
}

/** (kind, name, database the name is in) -> the new name, or undefined to keep it. */
type Translate = (kind: 'db' | 'collection', name: string, db: string) => string | undefined;

/** Which fields of a message name databases or collections, and which nested messages hold such fields. */
interface NameFields {
  /** Single string fields naming the database the message's collections are in (its scope). */
  scope: number[];
  /** String fields (single or repeated) naming databases. */
  db: Set<number>;
  /** String fields (single or repeated) naming collections. */
  collection: Set<number>;
  nested: Map<number, NameFields>;
}

const DB_FIELDS = new Set(['db_name', 'dbName', 'db_names']);
const COLLECTION_FIELDS = new Set(['collection_name', 'collectionName', 'collection_names', 'oldName']);
/** Fields that name a collection under another name, by message. */
const OTHER_COLLECTION_FIELDS: Record<string, string> = {
  'milvus.proto.milvus.DescribeAliasResponse': 'collection',
  'milvus.proto.schema.CollectionSchema': 'name',
};
/**
 * Not entered: RBAC grants name their objects by object_name (a collection, or `*`), which this
 * does not map; rewriting the grant's db_name alone would split a grant from its object.
 */
const NOT_ENTERED = new Set(['milvus.proto.milvus.GrantEntity', 'milvus.proto.milvus.RBACMeta']);
/** Map fields keyed by collection name (FlushResponse.coll_segIDs, coll_seal_times...): an entry's key is field 1. */
const COLLECTION_KEYED_MAP = /^(coll_|flush_coll_|collection_)/;
const MAP_ENTRY_KEY: NameFields = { scope: [], db: new Set(), collection: new Set([1]), nested: new Map() };

const SERVICE = 'milvus.proto.milvus.MilvusService';

/** Per unary method of the service: the name fields of its request and of its reply (absent: none). */
type MethodNameFields = Map<string, { request?: NameFields; response?: NameFields }>;

export function methodNameFields(): MethodNameFields {
  const root = protobuf.Root.fromJSON(milvusProtoJson as protobuf.INamespace);
  root.resolveAll();
  const memo = new Map<string, NameFields | null>();
  const out: MethodNameFields = new Map();
  for (const method of root.lookupService(SERVICE).methodsArray) {
    if (method.requestStream || method.responseStream) continue;
    const request = fieldsOf(method.resolvedRequestType!, memo);
    const response = fieldsOf(method.resolvedResponseType!, memo);
    if (request || response) out.set(method.name, { ...(request ? { request } : {}), ...(response ? { response } : {}) });
  }
  return out;
}

function fieldsOf(type: protobuf.Type, memo: Map<string, NameFields | null>): NameFields | null {
  const key = type.fullName.replace(/^\./, '');
  if (memo.has(key)) return memo.get(key)!;
  if (NOT_ENTERED.has(key)) return null;
  memo.set(key, null); // a recursive message (a cycle) contributes nothing at its second visit
  const fields: NameFields = { scope: [], db: new Set(), collection: new Set(), nested: new Map() };
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.map) {
      if ((field as unknown as protobuf.MapField).keyType === 'string' && COLLECTION_KEYED_MAP.test(field.name)) fields.nested.set(field.id, MAP_ENTRY_KEY);
    } else if (field.type === 'string') {
      if (DB_FIELDS.has(field.name)) {
        fields.db.add(field.id);
        if (!field.repeated) fields.scope.push(field.id);
      } else if (COLLECTION_FIELDS.has(field.name) || OTHER_COLLECTION_FIELDS[key] === field.name) fields.collection.add(field.id);
    } else if (field.resolvedType instanceof protobuf.Type) {
      const inner = fieldsOf(field.resolvedType, memo);
      if (inner) fields.nested.set(field.id, inner);
    }
  }
  const found = fields.db.size || fields.collection.size || fields.nested.size ? fields : null;
  memo.set(key, found);
  return found;
}

/** Source -> target and back, for one job's TargetNames. */
export class NameTranslator {
  private readonly dbs = new Map<string, string>();
  private readonly dbsBack = new Map<string, string>();
  private readonly collections = new Map<string, string>();
  private readonly collectionsBack = new Map<string, string>();

  constructor(names: TargetNames) {
    for (const [source, target] of Object.entries(names.databases)) {
      if (source === target) continue;
      this.dbs.set(source, target);
      this.dbsBack.set(target, source);
    }
    for (const [db, renamed] of Object.entries(names.collections)) {
      const targetDb = this.dbs.get(db) ?? db;
      for (const [source, target] of Object.entries(renamed)) {
        if (source === target) continue;
        this.collections.set(`${db}\u0000${source}`, target);
        this.collectionsBack.set(`${targetDb}\u0000${target}`, source);
      }
    }
  }

  /** Nothing renamed: calls pass as bytes. */
  get empty(): boolean {
    return this.dbs.size === 0 && this.collections.size === 0;
  }

  readonly toTarget: Translate = (kind, name, db) => (kind === 'db' ? this.dbs.get(name) : this.collections.get(`${db}\u0000${name}`));
  readonly toSource: Translate = (kind, name, db) => (kind === 'db' ? this.dbsBack.get(name) : this.collectionsBack.get(`${db}\u0000${name}`));

  /**
   * A request for the target: its `dbname` header and its name fields. The caller's database is
   * the header's ('default' without one); a message's own db_name, when set, takes its place for
   * the names in it. Returns the metadata and bytes to send (the same objects when nothing
   * changed) and the target database the call is about (the scope of its reply's names).
   */
  request(fields: NameFields | undefined, bytes: Buffer, metadata: grpc.Metadata): { bytes: Buffer; metadata: grpc.Metadata; targetDb: string } {
    const callerDb = String(metadata.get('dbname')[0] ?? '') || 'default';
    const headerDb = this.dbs.get(callerDb);
    if (headerDb) {
      metadata = metadata.clone();
      metadata.set('dbname', headerDb);
    }
    if (!fields) return { bytes, metadata, targetDb: headerDb ?? callerDb };
    const db = (fields.scope.length && safely(() => readScope(bytes, fields.scope))) || callerDb;
    return { bytes: safely(() => rewriteNames(bytes, fields, callerDb, this.toTarget)) ?? bytes, metadata, targetDb: this.dbs.get(db) ?? db };
  }

  /** A reply from the target with the source's names; `targetDb` is the database the request went to. */
  reply(fields: NameFields | undefined, bytes: Buffer, targetDb: string): Buffer {
    return (fields && safely(() => rewriteNames(bytes, fields, targetDb, this.toSource))) || bytes;
  }
}

/** Bytes that do not parse are passed as they came: the server answers a malformed request as it would without the endpoint. */
function safely<T>(rewrite: () => T | undefined): T | undefined {
  try {
    return rewrite();
  } catch {
    return undefined;
  }
}

/**
 * The message with the name fields `fields` lists translated (nested messages too), or undefined
 * when nothing changed. `db` is the database of the enclosing scope; the message's own scope field
 * (db_name), when set, replaces it for the names inside. Fields are copied as raw spans otherwise.
 */
function rewriteNames(bytes: Buffer, fields: NameFields, db: string, translate: Translate): Buffer | undefined {
  let scope = db;
  if (fields.scope.length) {
    const own = readScope(bytes, fields.scope);
    if (own) scope = own;
  }
  const reader = protobuf.Reader.create(bytes);
  const chunks: Buffer[] = [];
  let copiedFrom = 0;
  let changed = false;
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    const nested = fields.nested.get(id);
    const isName = fields.db.has(id) || fields.collection.has(id);
    if (wire !== 2 || (!isName && !nested)) {
      reader.skipType(wire);
      continue;
    }
    const length = reader.uint32();
    const valueStart = reader.pos;
    reader.skip(length);
    const value = bytes.subarray(valueStart, valueStart + length);
    let replacement: Buffer | undefined;
    if (isName) {
      const name = value.toString('utf8');
      const renamed = translate(fields.db.has(id) ? 'db' : 'collection', name, scope);
      if (renamed !== undefined && renamed !== name) replacement = Buffer.from(renamed, 'utf8');
    } else {
      replacement = rewriteNames(value, nested!, scope, translate);
    }
    if (!replacement) continue;
    changed = true;
    chunks.push(bytes.subarray(copiedFrom, start), varint(tag), varint(replacement.length), replacement);
    copiedFrom = reader.pos;
  }
  if (!changed) return undefined;
  chunks.push(bytes.subarray(copiedFrom));
  return Buffer.concat(chunks);
}

/** The last non-empty value of the scope fields (protobuf: the last occurrence of a field wins). */
function readScope(bytes: Buffer, scope: number[]): string | undefined {
  const reader = protobuf.Reader.create(bytes);
  let found: string | undefined;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if ((tag & 7) === 2 && scope.includes(tag >>> 3)) {
      const value = reader.string();
      if (value) found = value;
    } else reader.skipType(tag & 7);
  }
  return found;
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
