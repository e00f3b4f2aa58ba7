import { createHash } from 'node:crypto';
import { PermanentError } from '../errors';
import { mapInOrder } from '../concurrency';
import type { CollectionBaseline, SourceBaseline } from '../jobs/model';
import type { DescribedCollection, MilvusGateway } from '../milvus';
import { DEFAULT_PARTITION } from '../milvus/spec';

/**
 * Guards of an online migration. The sync copies rows; a change of schema or metadata on the
 * source during the days it runs (AlterCollection, AlterCollectionField, aliases, rename,
 * AlterDatabase, collections or databases created or dropped, partitions, bulk imports) would leave
 * the target silently different. takeSourceBaseline records what matters when the job starts and
 * again at every check; detectSourceChanges names every difference.
 *
 * Calls per snapshot: one ListDatabases; per moved database one DescribeDatabase, one
 * ShowCollections and one ListImportTasks; per moved collection one DescribeCollection, one
 * ListAliases and one ShowPartitions; at most CONCURRENCY at a time. Servers without databases,
 * partitions, aliases or import (milvus-lite answers UNIMPLEMENTED, which the SDK turns into `{}`)
 * give the default database only, `_default` only, the aliases DescribeCollection reports, and
 * `importJobs: null`.
 */

export interface BaselineScope {
  /** Databases the job moves (online: all of them). */
  databases: string[];
  /** Collections the job moves, keyed as CollectionProgress.key (`<db>.<name>`). */
  collections: { key: string; db: string; name: string }[];
}

type SourceChangeKind =
  | 'AlterCollection'
  | 'AlterCollectionField'
  | 'Alias'
  | 'RenameCollection'
  | 'AlterDatabase'
  | 'NewCollection'
  | 'DroppedCollection'
  | 'NewDatabase'
  | 'DroppedDatabase'
  | 'Partition'
  | 'Import';

export interface SourceChange {
  kind: SourceChangeKind;
  /** e.g. "shop.items: property collection.ttl.seconds changed from 0 to 3600 (AlterCollection)" */
  message: string;
  /** NewCollection, NewDatabase: the database it appeared in (or is), for scope filters. */
  database?: string;
}

/**
 * A database the server lists that the job does not move is recorded with only this property (no
 * collections, nothing described): a snapshot must know it existed, so that only databases created
 * later are reported, but nothing that happens inside it matters.
 */
export const NOT_MOVED_PROPERTY = 'milvus-migrate/not-moved';

const CONCURRENCY = 4;
/** Longest property value or description quoted in a message. */
const MAX_VALUE_CHARS = 80;
/** Changes listed by describeSourceChanges. */
const MAX_LISTED = 5;

type Entry = SourceBaseline['databases'][string];

/** Whether the baseline's entry is a database the job moves. */
const isMovedDatabase = (entry: Entry): boolean => !(NOT_MOVED_PROPERTY in entry.properties);

/** The databases a baseline treats as moved (what a later snapshot's scope should name). */
export const movedDatabases = (baseline: SourceBaseline): string[] =>
  Object.entries(baseline.databases)
    .filter(([, entry]) => isMovedDatabase(entry))
    .map(([db]) => db);

// ---------------------------------------------------------------------------------------------
// Taking a snapshot
// ---------------------------------------------------------------------------------------------

/** The source as the guards see it now: the job's databases and collections, and the import jobs on them. */
export async function takeSourceBaseline(source: MilvusGateway, scope: BaselineScope, now: Date): Promise<SourceBaseline> {
  const moved = new Set(scope.databases);
  const listed = await source.listDatabases();
  const databases: SourceBaseline['databases'] = {};
  await mapInOrder(listed, CONCURRENCY, async (db) => {
    if (!moved.has(db)) {
      databases[db] = { properties: { [NOT_MOVED_PROPERTY]: 'true' }, collections: [] };
      return;
    }
    try {
      const [properties, collections] = await Promise.all([source.describeDatabase(db), source.listCollections(db)]);
      databases[db] = { properties: sortedRecord(properties), collections: [...collections].sort() };
    } catch (error) {
      if (isNotFound(error)) return; // dropped between the listing and now: absent, as a dropped database is
      throw error;
    }
  });

  const collections: SourceBaseline['collections'] = {};
  const ids = new Map<string, string>(); // collection id -> key, to attribute import jobs
  const readable = scope.collections.filter((c) => {
    const entry = databases[c.db];
    // A moved database's listing says at once that a collection is gone; elsewhere describing tells.
    if (entry && isMovedDatabase(entry)) return entry.collections.includes(c.name);
    return listed.includes(c.db);
  });
  const importsPerDb = [...moved].filter((db) => databases[db] && isMovedDatabase(databases[db]));
  const [, imports] = await Promise.all([
    mapInOrder(readable, CONCURRENCY, async (c) => {
      const seen = await snapshotCollection(source, c.db, c.name);
      if (!seen) return;
      collections[c.key] = seen.baseline;
      if (seen.id && seen.id !== '0') ids.set(seen.id, c.key);
    }),
    mapInOrder(importsPerDb, CONCURRENCY, (db) => source.listImportTasks(db)),
  ]);

  let importJobs: string[] | null = [];
  const byName = new Map(scope.collections.map((c) => [`${c.db}.${c.name}`, c.key]));
  for (const [i, tasks] of imports.entries()) {
    if (tasks === null) {
      importJobs = null;
      break;
    }
    const db = importsPerDb[i];
    for (const task of tasks) {
      const entry = importEntry(task, db, ids, byName);
      if (entry) importJobs.push(entry);
    }
  }
  return {
    takenAt: now.toISOString(),
    databases: sortedRecord(databases),
    collections: sortedRecord(collections),
    importJobs: importJobs === null ? null : [...new Set(importJobs)].sort(),
  };
}

/** One collection's baseline, or undefined when it is gone (or its name is now an alias of another). */
async function snapshotCollection(source: MilvusGateway, db: string, name: string): Promise<{ baseline: CollectionBaseline; id: string } | undefined> {
  // Without ListAliases (or its privilege) the aliases DescribeCollection reports stand in; without
  // ShowPartitions (milvus-lite) there is only `_default`. A collection dropped meanwhile is gone.
  let described: DescribedCollection | null;
  let aliases: string[] | null;
  let partitions: string[] | null;
  try {
    [described, aliases, partitions] = await Promise.all([source.describeCollection(db, name), source.listAliases(db, name), source.listPartitions(db, name)]);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  if (!described) return undefined;
  // A name that now resolves through an alias describes another collection: the one we move is gone.
  const describedName = String(described.schema.name || described.collection_name || name);
  if (describedName !== name) return undefined;

  const fields: any[] = described.schema.fields.filter((f: any) => !f.is_dynamic);
  const summaries = fields.map((f) => [String(f.name), fieldSummary(f)] as const);
  const aliasNames: string[] = aliases ?? (Array.isArray(described.aliases) ? described.aliases : []);
  const partitionNames: string[] = partitions && partitions.length > 0 ? partitions : [DEFAULT_PARTITION];
  const baseline: CollectionBaseline = {
    db,
    name,
    schemaDigest: schemaDigest(described, fields),
    fields: Object.fromEntries(summaries),
    description: String(described.schema.description ?? ''),
    properties: sortedRecord(kvRecord(described.properties)),
    aliases: [...new Set(aliasNames.map(String))].sort(),
    partitions: orderPartitions(partitionNames.map(String)),
  };
  return { baseline, id: String(described.collectionID ?? '') };
}

const isNotFound = (error: unknown): boolean =>
  error instanceof PermanentError && (error.code === 'DATABASE_NOT_FOUND' || error.code === 'COLLECTION_NOT_FOUND');

/**
 * `<collection key>#<job id>` for an import job on a moved collection, found by the task's
 * collection id or, failing that, its `collection` info; `*#<job id>` when the task names no
 * collection at all (it may load a moved one); undefined for jobs on collections the job does not move.
 */
function importEntry(task: any, db: string, ids: Map<string, string>, byName: Map<string, string>): string | undefined {
  const id = String(task?.id ?? '0') !== '0' ? String(task.id) : `t${String(task?.create_ts ?? '0')}`;
  const collectionId = String(task?.collection_id ?? '0');
  const infos = kvRecord(task?.infos);
  const collectionName = infos.collection ?? infos.collection_name ?? '';
  if (collectionId !== '0' && collectionId !== '') {
    const key = ids.get(collectionId);
    return key ? `${key}#${id}` : undefined;
  }
  if (collectionName) {
    const key = byName.get(`${db}.${collectionName}`);
    return key ? `${key}#${id}` : undefined;
  }
  return `*#${id}`;
}

// ---------------------------------------------------------------------------------------------
// Schema summaries
// ---------------------------------------------------------------------------------------------

type KeyValue = { key: string; value: unknown };

function kvRecord(pairs: unknown): Record<string, string> {
  if (!Array.isArray(pairs)) return {};
  return Object.fromEntries((pairs as KeyValue[]).map(({ key, value }) => [String(key), String(value)]));
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** `_default` first, then the others sorted. */
function orderPartitions(names: string[]): string[] {
  const unique = [...new Set(names)];
  return [...unique.filter((p) => p === DEFAULT_PARTITION), ...unique.filter((p) => p !== DEFAULT_PARTITION).sort()];
}

/** A ValueField ({data: 'long_data', long_data: '5'}) as a string; undefined when there is none. */
function defaultValueOf(raw: any): string | undefined {
  if (!raw || typeof raw !== 'object' || !raw.data) return undefined;
  const value = raw[raw.data];
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * A field as a JSON object with stable key order: `type` first, then the type params (dim,
 * max_length, max_capacity, mmap.enabled, analyzer settings...), then the flags that are set.
 * detectSourceChanges reads it back to name what changed.
 */
function fieldSummary(f: any): string {
  const summary: Record<string, string | boolean> = { type: String(f.data_type) };
  if (f.data_type === 'Array' && f.element_type && f.element_type !== 'None') summary.element_type = String(f.element_type);
  for (const [key, value] of Object.entries(sortedRecord(kvRecord(f.type_params)))) summary[key] = value;
  if (f.is_primary_key) summary.primary_key = true;
  if (f.autoID) summary.auto_id = true;
  if (f.nullable) summary.nullable = true;
  const defaultValue = defaultValueOf(f.default_value);
  if (defaultValue !== undefined) summary.default_value = defaultValue;
  if (f.is_partition_key) summary.partition_key = true;
  if (f.is_clustering_key) summary.clustering_key = true;
  if (f.is_function_output) summary.function_output = true;
  if (f.description) summary.description = String(f.description);
  return JSON.stringify(summary);
}

/** Everything schema-related, field order and ids included, so nothing escapes where a summary is coarse. */
function schemaDigest(described: any, fields: any[]): string {
  const schema = described.schema;
  const functions = (schema.functions ?? []).map((fn: any) => ({
    name: fn.name,
    type: String(fn.type),
    description: fn.description ?? '',
    input: [...(fn.input_field_names ?? [])],
    output: [...(fn.output_field_names ?? [])],
    params: sortedRecord(kvRecord(fn.params)),
  }));
  const canonical = {
    fields: fields.map((f) => [String(f.name), String(f.fieldID ?? ''), fieldSummary(f)]),
    functions,
    structArrayFields: (schema.struct_array_fields ?? []).map((s: any) => ({
      name: s.name,
      fields: (s.fields ?? []).map(fieldSummary),
    })),
    enableDynamicField: Boolean(schema.enable_dynamic_field),
    autoId: Boolean(schema.autoID),
    shardsNum: Number(described.shards_num ?? 0),
    numPartitions: String(described.num_partitions ?? '0'),
    consistencyLevel: String(described.consistency_level ?? ''),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------------

/** Differences between the baseline and the source now; empty when nothing changed. */
/**
 * `database.force.deny.writing` is how an operator may stop the writers before confirming
 * stop-sync: it changes what clients may do, not what the target must hold, so it is no schema change.
 */
const WRITE_SWITCH = 'database.force.deny.writing';
const withoutWriteSwitch = (properties: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(properties).filter(([key]) => key !== WRITE_SWITCH));

export function detectSourceChanges(baseline: SourceBaseline, current: SourceBaseline): SourceChange[] {
  const changes: SourceChange[] = [];
  const add = (kind: SourceChangeKind, message: string, database?: string) => changes.push({ kind, message, ...(database ? { database } : {}) });
  const movedKeysIn = (db: string) => Object.keys(baseline.collections).filter((key) => baseline.collections[key].db === db);

  // Databases: new ones (the online job moves every database), dropped ones, their properties.
  for (const db of Object.keys(current.databases)) {
    if (!(db in baseline.databases)) add('NewDatabase', `database ${db} was created (CreateDatabase)`, db);
  }
  const goneKeys = new Set(Object.keys(baseline.collections).filter((key) => !(key in current.collections)));
  const reported = new Set<string>();
  for (const [db, before] of Object.entries(baseline.databases)) {
    const now = current.databases[db];
    if (!isMovedDatabase(before)) continue;
    if (!now) {
      add('DroppedDatabase', `database ${db} was dropped (DropDatabase)`);
      continue;
    }
    if (!isMovedDatabase(now)) continue; // a snapshot taken with another scope: nothing to compare
    for (const message of recordDiff(withoutWriteSwitch(before.properties), withoutWriteSwitch(now.properties))) add('AlterDatabase', `database ${db}: ${message} (AlterDatabase)`);
    const appeared = now.collections.filter((c) => !before.collections.includes(c));
    const goneHere = movedKeysIn(db).filter((key) => goneKeys.has(key));
    if (goneHere.length > 0 && appeared.length > 0) {
      const names = goneHere.map((key) => `${db}.${baseline.collections[key].name}`);
      add(
        'RenameCollection',
        `${names.join(', ')} ${names.length === 1 ? 'was' : 'were'} renamed or dropped; ${appeared.map((c) => `${db}.${c}`).join(', ')} appeared (RenameCollection)`,
      );
      for (const key of goneHere) reported.add(key);
    } else {
      for (const name of appeared) add('NewCollection', `${db}.${name}: a new collection in a migrated database (CreateCollection)`, db);
    }
  }
  for (const key of goneKeys) {
    if (reported.has(key)) continue;
    const c = baseline.collections[key];
    add('DroppedCollection', `${c.db}.${c.name} was dropped (DropCollection)`);
  }

  // Collections present in both.
  const aliasMoves = new Map<string, { from?: string; to?: string }>(); // `<db>.<alias>` -> where it was and is
  for (const [key, before] of Object.entries(baseline.collections)) {
    const now = current.collections[key];
    if (!now) continue;
    const where = `${before.db}.${before.name}`;
    if (before.description !== now.description) {
      add('AlterCollection', `${where}: description changed from ${quote(before.description)} to ${quote(now.description)} (AlterCollection)`);
    }
    for (const message of recordDiff(before.properties, now.properties)) add('AlterCollection', `${where}: ${message} (AlterCollection)`);
    const fieldMessages = fieldDiff(before.fields, now.fields);
    for (const message of fieldMessages) add('AlterCollectionField', `${where}: ${message}`);
    if (before.schemaDigest !== now.schemaDigest && fieldMessages.length === 0) {
      add('AlterCollection', `${where}: its schema changed (functions, dynamic field, field order or collection-level settings) (AlterCollection)`);
    }
    for (const alias of before.aliases.filter((a) => !now.aliases.includes(a))) {
      const move = aliasMoves.get(`${before.db}.${alias}`) ?? {};
      aliasMoves.set(`${before.db}.${alias}`, { ...move, from: where });
    }
    for (const alias of now.aliases.filter((a) => !before.aliases.includes(a))) {
      const move = aliasMoves.get(`${before.db}.${alias}`) ?? {};
      aliasMoves.set(`${before.db}.${alias}`, { ...move, to: where });
    }
    for (const p of now.partitions.filter((p) => !before.partitions.includes(p))) add('Partition', `${where}: partition ${p} was created (CreatePartition)`);
    for (const p of before.partitions.filter((p) => !now.partitions.includes(p))) add('Partition', `${where}: partition ${p} was dropped (DropPartition)`);
  }
  for (const [qualified, { from, to }] of aliasMoves) {
    const alias = qualified.slice(qualified.indexOf('.') + 1);
    if (from && to) add('Alias', `${from}: alias ${alias} now names ${to} (AlterAlias)`);
    else if (from) add('Alias', `${from}: alias ${alias} was dropped or now names another collection (DropAlias/AlterAlias)`);
    else if (to) add('Alias', `${to}: alias ${alias} was created or moved to it (CreateAlias/AlterAlias)`);
  }

  // Bulk imports started since the baseline (jobs that expired from the server's list are not changes).
  if (baseline.importJobs && current.importJobs) {
    const known = new Set(baseline.importJobs.map(importJobId));
    for (const entry of current.importJobs) {
      const id = importJobId(entry);
      if (known.has(id)) continue;
      const key = entry.slice(0, entry.lastIndexOf('#'));
      const c = current.collections[key] ?? baseline.collections[key];
      if (key === '*' || !c) add('Import', `bulk import job ${id} started on the source; its collection is not reported (Import)`);
      else add('Import', `${c.db}.${c.name}: bulk import job ${id} started (Import)`);
    }
  }
  return changes;
}

/** One sentence for the job's error reason, listing up to 5 changes. */
export function describeSourceChanges(changes: SourceChange[]): string {
  if (changes.length === 0) return 'The source did not change.';
  const listed = changes.slice(0, MAX_LISTED).map((c) => c.message);
  const more = changes.length - listed.length;
  const count = changes.length === 1 ? '' : ` (${changes.length} changes)`;
  return `The source changed in a way the sync cannot follow${count}: ${listed.join('; ')}${more > 0 ? `; and ${more} more` : ''}.`;
}

const importJobId = (entry: string): string => entry.slice(entry.lastIndexOf('#') + 1);

function quote(value: string): string {
  const shown = value.length > MAX_VALUE_CHARS ? `${value.slice(0, MAX_VALUE_CHARS)}...` : value;
  return JSON.stringify(shown);
}

function shortValue(value: string): string {
  return value.length > MAX_VALUE_CHARS ? `${value.slice(0, MAX_VALUE_CHARS)}...` : value;
}

/** "property k changed from a to b", "property k set to v", "property k removed (was v)". */
function recordDiff(before: Record<string, string>, now: Record<string, string>, noun = 'property '): string[] {
  const out: string[] = [];
  for (const key of [...new Set([...Object.keys(before), ...Object.keys(now)])].sort()) {
    const a = before[key];
    const b = now[key];
    if (a === b) continue;
    if (a === undefined) out.push(`${noun}${key} set to ${shortValue(b)}`);
    else if (b === undefined) out.push(`${noun}${key} removed (was ${shortValue(a)})`);
    else out.push(`${noun}${key} changed from ${shortValue(a)} to ${shortValue(b)}`);
  }
  return out;
}

function parseSummary(summary: string): Record<string, string> | undefined {
  try {
    const parsed = JSON.parse(summary);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  } catch {
    return undefined;
  }
}

function fieldDiff(before: Record<string, string>, now: Record<string, string>): string[] {
  const out: string[] = [];
  for (const name of Object.keys(before)) {
    if (!(name in now)) out.push(`field ${name} was removed (AlterCollectionField)`);
    else if (before[name] !== now[name]) {
      const a = parseSummary(before[name]);
      const b = parseSummary(now[name]);
      const what = a && b ? recordDiff(a, b, '') : [`changed from ${before[name]} to ${now[name]}`];
      out.push(`field ${name}: ${what.join(', ')} (AlterCollectionField)`);
    }
  }
  for (const name of Object.keys(now)) {
    if (!(name in before)) out.push(`field ${name} was added (AddCollectionField)`);
  }
  return out;
}
