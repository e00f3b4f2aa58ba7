import { errors, ok } from './status';
import type { Handlers } from './handlers';
import type { CallContext } from './state';

const BUILTIN_ROLES = new Set(['admin', 'public']);

function rbac(ctx: CallContext) {
  return ctx.state.rbac;
}

export const rbacHandlers: Handlers = {
  CreateCredential(req, ctx) {
    const users = rbac(ctx).users;
    if (users.has(req.username)) throw errors.unexpected(`user already exists: ${req.username}`);
    const password = Buffer.from(req.password, 'base64').toString();
    if (password.length < 6 || password.length > 256) throw errors.invalid('invalid password length');
    users.set(req.username, { password, roles: new Set() });
    return ok();
  },
  ListCredUsers(_req, ctx) {
    return { status: ok(), usernames: [...rbac(ctx).users.keys()] };
  },
  DeleteCredential(req, ctx) {
    if (req.username === 'root') throw errors.invalid('root user cannot be deleted');
    rbac(ctx).users.delete(req.username);
    return ok();
  },
  CreateRole(req, ctx) {
    const name: string = req.entity?.name ?? '';
    if (!name) throw errors.invalid('role name is empty');
    if (rbac(ctx).roles.has(name)) throw errors.unexpected(`role [name:"${name}"] already exists`);
    rbac(ctx).roles.add(name);
    return ok();
  },
  DropRole(req, ctx) {
    const r = rbac(ctx);
    if (BUILTIN_ROLES.has(req.role_name)) throw errors.invalid(`the role[${req.role_name}] is a default role, which can't be dropped`);
    if (!r.roles.has(req.role_name)) throw errors.unexpected(`not found the role, maybe the role isn't existed or internal system error`);
    if (!req.force_drop && r.grants.some((g) => g.role === req.role_name))
      throw errors.unexpected(`fail to drop the role that it has privileges. Use REVOKE API to revoke privileges`);
    r.roles.delete(req.role_name);
    r.grants = r.grants.filter((g) => g.role !== req.role_name);
    for (const u of r.users.values()) u.roles.delete(req.role_name);
    return ok();
  },
  SelectRole(req, ctx) {
    const r = rbac(ctx);
    const wanted: string = req.role?.name ?? '';
    if (wanted && !r.roles.has(wanted)) return { status: ok(), results: [] };
    const roles = wanted ? [wanted] : [...r.roles];
    return {
      status: ok(),
      results: roles.map((name) => ({
        role: { name, description: '' },
        users: req.include_user_info ? [...r.users].filter(([, u]) => u.roles.has(name)).map(([user]) => ({ name: user })) : [],
      })),
    };
  },
  SelectUser(req, ctx) {
    const r = rbac(ctx);
    const wanted: string = req.user?.name ?? '';
    if (wanted && !r.users.has(wanted)) throw errors.unexpected(`user not found: ${wanted}`);
    const names = wanted ? [wanted] : [...r.users.keys()];
    return {
      status: ok(),
      results: names.map((name) => ({
        user: { name },
        roles: req.include_role_info ? [...r.users.get(name)!.roles].map((role) => ({ name: role, description: '' })) : [],
        description: '',
      })),
    };
  },
  OperateUserRole(req, ctx) {
    const r = rbac(ctx);
    const user = r.users.get(req.username);
    if (!user) throw errors.unexpected(`not found the user, maybe the user isn't existed or internal system error`);
    if (!r.roles.has(req.role_name)) throw errors.unexpected(`not found the role, maybe the role isn't existed or internal system error`);
    if (req.type === 'RemoveUserFromRole') user.roles.delete(req.role_name);
    else user.roles.add(req.role_name);
    return ok();
  },
  OperatePrivilege(req, ctx) {
    const r = rbac(ctx);
    const e = req.entity ?? {};
    const role: string = e.role?.name ?? '';
    if (!r.roles.has(role)) throw errors.unexpected(`not found the role, maybe the role isn't existed or internal system error`);
    const grant = {
      role,
      object: e.object?.name ?? '',
      object_name: e.object_name ?? '',
      db_name: e.db_name || ctx.dbName,
      privilege: e.grantor?.privilege?.name ?? '',
      grantor: 'root',
    };
    if (!grant.object || !grant.object_name || !grant.privilege) throw errors.invalid('object, object name and privilege are required');
    const same = (g: typeof grant) =>
      g.role === grant.role && g.object === grant.object && g.object_name === grant.object_name && g.db_name === grant.db_name && g.privilege === grant.privilege;
    r.grants = r.grants.filter((g) => !same(g));
    if (req.type !== 'Revoke') r.grants.push(grant);
    return ok();
  },
  SelectGrant(req, ctx) {
    const r = rbac(ctx);
    const e = req.entity ?? {};
    const role: string = e.role?.name ?? '';
    if (!role) throw errors.invalid('the role entity in the grant entity is invalid');
    const db: string = e.db_name || ctx.dbName;
    const entities = r.grants
      .filter(
        (g) =>
          g.role === role &&
          (db === '*' || g.db_name === db) &&
          (!e.object?.name || g.object === e.object.name) &&
          (!e.object_name || g.object_name === e.object_name),
      )
      .map((g) => ({
        role: { name: g.role, description: '' },
        object: { name: g.object },
        object_name: g.object_name,
        grantor: { user: { name: g.grantor }, privilege: { name: g.privilege } },
        db_name: g.db_name,
      }));
    return { status: ok(), entities };
  },
};
