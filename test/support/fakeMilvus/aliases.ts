import { Code, MilvusError, errors, ok } from './status';
import { collectionOf, dbOf } from './state';
import type { Handlers } from './handlers';

export const aliasHandlers: Handlers = {
  CreateAlias(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    const alias: string = req.alias;
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,254}$/.test(alias)) throw errors.invalid(`Invalid alias: ${alias}`);
    if (db.collections.has(alias))
      throw new MilvusError(Code.AliasCollectionNameConflict, `alias and collection name conflict[database=${db.name}][alias=${alias}]`);
    if (db.aliases.has(req.collection_name)) throw errors.invalid(`cannot alter alias, collection is an alias: ${req.collection_name}`);
    const coll = collectionOf(ctx, req);
    const current = db.aliases.get(alias);
    if (current === coll.name) return ok();
    if (current !== undefined)
      throw new MilvusError(Code.AliasAlreadyExist, `alias already exist[database=${db.name}][alias=${alias}]`);
    db.aliases.set(alias, coll.name);
    return ok();
  },
  DropAlias(req, ctx) {
    dbOf(ctx, req.db_name).aliases.delete(req.alias);
    return ok();
  },
  AlterAlias(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    if (!db.aliases.has(req.alias)) throw errors.aliasNotFound(req.alias);
    if (db.aliases.has(req.collection_name)) throw errors.invalid(`cannot alter alias, collection is an alias: ${req.collection_name}`);
    const coll = collectionOf(ctx, req);
    db.aliases.set(req.alias, coll.name);
    return ok();
  },
  DescribeAlias(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    const collection = db.aliases.get(req.alias);
    if (collection === undefined) throw errors.aliasNotFound(req.alias);
    return { status: ok(), db_name: db.name, alias: req.alias, collection };
  },
  ListAliases(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    let entries = [...db.aliases];
    if (req.collection_name) {
      const coll = collectionOf(ctx, req);
      entries = entries.filter(([, c]) => c === coll.name);
    }
    return { status: ok(), db_name: db.name, collection_name: req.collection_name ?? '', aliases: entries.map(([a]) => a) };
  },
};
