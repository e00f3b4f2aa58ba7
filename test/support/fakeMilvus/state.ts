import { errors } from './status';

export interface KeyValue {
  key: string;
  value: string;
}

/** One stored row: field name -> value (see fieldData.ts for the per-type representation). */
export type Row = Record<string, unknown>;

export interface Partition {
  id: string;
  name: string;
  createdAt: number;
  /** Rows keyed by primary key (string form). */
  rows: Map<string, Row>;
}

export interface IndexInfo {
  indexID: string;
  index_name: string;
  field_name: string;
  params: KeyValue[];
}

export interface Collection {
  id: string;
  name: string;
  /** CollectionSchema as decoded from the CreateCollection request (fields get IDs from 100). */
  schema: Record<string, any>;
  shards_num: number;
  consistency_level: string;
  properties: KeyValue[];
  num_partitions: number;
  createdAt: number;
  partitions: Map<string, Partition>;
  indexes: Map<string, IndexInfo>;
  /** Replica count when loaded, null when released. */
  loadedReplicas: number | null;
  nextAutoId: bigint;
}

export interface Database {
  id: string;
  name: string;
  createdAt: number;
  properties: KeyValue[];
  collections: Map<string, Collection>;
  /** alias -> collection name */
  aliases: Map<string, string>;
}

interface Grant {
  role: string;
  object: string;
  object_name: string;
  db_name: string;
  privilege: string;
  grantor: string;
}

interface Rbac {
  users: Map<string, { password: string; roles: Set<string> }>;
  roles: Set<string>;
  grants: Grant[];
}

/** A bulk import job (Import): recorded, never run (the fake reads no files). */
export interface ImportJob {
  id: string;
  dbName: string;
  collectionId: string;
  collectionName: string;
  partitionName: string;
  files: string[];
  /** common.ImportState name. */
  state: string;
  createdAt: number;
}

export interface FakeMilvusState {
  version: string;
  /** Query nodes: a load asking for more replicas is refused. Unlimited when undefined. */
  queryNodes?: number;
  databases: Map<string, Database>;
  rbac: Rbac;
  /** Bulk import jobs, oldest first. */
  imports: ImportJob[];
  nextId(): string;
}

export function createState(version: string): FakeMilvusState {
  let id = 450_000_000_000_000_000n;
  const nextId = () => String(++id);
  const state: FakeMilvusState = {
    version,
    databases: new Map(),
    rbac: {
      users: new Map([['root', { password: '', roles: new Set(['admin']) }]]),
      roles: new Set(['admin', 'public']),
      grants: [],
    },
    imports: [],
    nextId,
  };
  state.databases.set('default', newDatabase(state, 'default', []));
  return state;
}

export function newDatabase(state: FakeMilvusState, name: string, properties: KeyValue[]): Database {
  return { id: state.nextId(), name, createdAt: Date.now(), properties, collections: new Map(), aliases: new Map() };
}

/** Context of one call: the state and the database named by the `dbname` header (or the body). */
export interface CallContext {
  state: FakeMilvusState;
  dbName: string;
}

export function dbOf(ctx: CallContext, bodyDbName?: string): Database {
  const name = bodyDbName || ctx.dbName;
  const db = ctx.state.databases.get(name);
  if (!db) throw errors.databaseNotFound(name);
  return db;
}

/** Finds a collection by name or alias, as the proxy does. */
export function collectionOf(ctx: CallContext, req: { db_name?: string; collection_name?: string }): Collection {
  const db = dbOf(ctx, req.db_name);
  const name = req.collection_name ?? '';
  const coll = db.collections.get(name) ?? db.collections.get(db.aliases.get(name) ?? '');
  if (!coll) throw errors.collectionNotFound(db.name, name);
  return coll;
}

export function aliasesOf(db: Database, collectionName: string): string[] {
  return [...db.aliases].filter(([, c]) => c === collectionName).map(([a]) => a);
}

export function rowCount(coll: Collection): number {
  let n = 0;
  for (const p of coll.partitions.values()) n += p.rows.size;
  return n;
}

export function mergeProperties(current: KeyValue[], set: KeyValue[], deleteKeys: string[] = []): KeyValue[] {
  const map = new Map(current.map((p) => [p.key, p.value]));
  for (const p of set) map.set(p.key, p.value);
  for (const k of deleteKeys) map.delete(k);
  return [...map].map(([key, value]) => ({ key, value }));
}
