import type { TargetNames } from '../milvus/gateway';

/** A collection of the job as the API lists it (GET /migrations/{id}/collections): where it came from, where it went. */
interface MovedCollection {
  sourceDb: string;
  sourceName: string;
  targetDb: string;
  targetName: string;
}

/**
 * The names a switched-over capture endpoint rewrites, from the job's collections: every database
 * and collection the job moved under another name (a database's targetName, CLI --target-database;
 * a collection's targetName). What keeps its name is left out, so a job that renames nothing gives
 * empty maps and the endpoint forwards bytes untouched.
 *
 * A database the job moves holding no collection appears in no collection, so it is not known
 * here: calls naming it go to the target under the source's name.
 */
export function targetNamesOf(collections: readonly MovedCollection[]): TargetNames {
  // Without a prototype: `__proto__` is a valid Milvus name.
  const record = <V>(): Record<string, V> => Object.create(null) as Record<string, V>;
  const names: TargetNames = { databases: record(), collections: record() };
  for (const c of collections) {
    if (c.targetDb !== c.sourceDb) names.databases[c.sourceDb] = c.targetDb;
    if (c.targetName !== c.sourceName) (names.collections[c.sourceDb] ??= record())[c.sourceName] = c.targetName;
  }
  return names;
}
