import { errors, MilvusError, Code, ok } from './status';
import { type CallContext, dbOf, mergeProperties, newDatabase } from './state';
import type { Handlers } from './handlers';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

export const databaseHandlers: Handlers = {
  CreateDatabase(req, ctx: CallContext) {
    const name: string = req.db_name;
    if (!NAME.test(name)) throw new MilvusError(Code.DatabaseInvalidName, `invalid database name[database=${name}]`);
    if (ctx.state.databases.has(name)) throw errors.unexpected(`database already exist: ${name}`);
    ctx.state.databases.set(name, newDatabase(ctx.state, name, req.properties ?? []));
    return ok();
  },
  ListDatabases(_req, ctx) {
    const dbs = [...ctx.state.databases.values()];
    return {
      status: ok(),
      db_names: dbs.map((d) => d.name),
      created_timestamp: dbs.map((d) => String(d.createdAt)),
      db_ids: dbs.map((d) => d.id),
    };
  },
  DescribeDatabase(req, ctx) {
    const db = dbOf(ctx, req.db_name || 'default');
    return { status: ok(), db_name: db.name, dbID: db.id, created_timestamp: String(db.createdAt), properties: db.properties };
  },
  AlterDatabase(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    db.properties = mergeProperties(db.properties, req.properties ?? [], req.delete_keys ?? []);
    return ok();
  },
  DropDatabase(req, ctx) {
    const name: string = req.db_name;
    if (name === 'default') throw errors.invalid('can not drop default database');
    const db = ctx.state.databases.get(name);
    if (!db) return ok(); // idempotent, like rootcoord
    if (db.collections.size > 0)
      throw errors.unexpected(`database:${name} not empty, must drop all collections before drop database`);
    ctx.state.databases.delete(name);
    return ok();
  },
};
