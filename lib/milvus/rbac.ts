import { logger as sdkLogger, OperatePrivilegeType, OperateUserRoleType } from '@zilliz/milvus2-sdk-node';
import { type MigrationError, PermanentError, TransientError } from '../errors';
import { rawCall } from './catalog';
import type { MilvusCluster } from './cluster';
import { isStatusOk, milvusCall, statusCode, statusOf, statusToError, toMigrationError } from './status';

/**
 * Users, roles, role memberships and grants of one cluster (Milvus RBAC), read and written
 * through the SDK's channel. Users, roles and memberships are cluster-wide; a grant belongs to
 * a database (`*` for all). Passwords are never read (Milvus cannot give them back) and the one
 * this module sends when it creates a user never appears in what it throws.
 */

export interface RbacUser {
  name: string;
  description?: string;
}

export interface RbacRole {
  name: string;
  description?: string;
}

export interface RbacGrant {
  role: string;
  /** The object type: Global, Collection or User. */
  object: string;
  /** The collection or user name, or `*`. */
  objectName: string;
  /** The database the grant belongs to, or `*` for every database. */
  dbName: string;
  privilege: string;
}

export interface RbacSnapshot {
  users: RbacUser[];
  roles: RbacRole[];
  /** Role names per user. */
  memberships: Record<string, string[]>;
  /** Grants per role, for the roles asked for (all roles when none were named). */
  grants: Record<string, RbacGrant[]>;
}

/** Identity of a grant, for comparing the two sides. */
export const grantKey = (g: RbacGrant): string => JSON.stringify([g.role, g.object, g.objectName, g.dbName, g.privilege]);

// merr ErrServiceUnimplemented, ErrOperationNotSupported.
const UNSUPPORTED_CODES = new Set([10, 3000]);

/**
 * Whether a reply means "this server has no RBAC": milvus-lite answers UNIMPLEMENTED, which the
 * SDK turns into `{}`; a server may also refuse with an unimplemented/not supported status.
 */
function unsupported(reply: unknown): boolean {
  const status = statusOf(reply);
  if (!status) return true;
  if (isStatusOk(status)) return false;
  return UNSUPPORTED_CODES.has(statusCode(status)) || /not (been )?(implemented|supported)|unimplemented|unsupported/i.test(`${status.reason ?? ''} ${status.detail ?? ''}`);
}

async function call(cluster: MilvusCluster, what: string, method: string, request: object): Promise<any> {
  return milvusCall(what, () => rawCall(cluster.client('default'), method, request));
}

function check(reply: unknown, what: string): void {
  const status = statusOf(reply);
  if (!status) throw new PermanentError('MILVUS_UNIMPLEMENTED', `${what}: the server does not implement this call`);
  if (!isStatusOk(status)) throw statusToError(status, what);
}

/** The cluster's users, roles, memberships and the grants of `grantsOf` roles; undefined when the server has no RBAC. */
export async function readRbac(cluster: MilvusCluster, grantsOf?: (roles: RbacRole[]) => string[]): Promise<RbacSnapshot | undefined> {
  const usersReply = await call(cluster, 'list users', 'ListCredUsers', {});
  if (unsupported(usersReply)) return undefined;
  check(usersReply, 'list users');
  if (!Array.isArray(usersReply.usernames)) return undefined;

  const rolesReply = await call(cluster, 'list roles', 'SelectRole', { include_user_info: false });
  if (unsupported(rolesReply)) return undefined;
  check(rolesReply, 'list roles');
  const roles: RbacRole[] = (rolesReply.results ?? []).map((r: any) => ({
    name: String(r.role?.name ?? ''),
    ...(r.role?.description ? { description: String(r.role.description) } : {}),
  }));

  // SelectUser without a user answers every user with its roles (and its description on 2.6+).
  const usersDetail = await call(cluster, 'describe users', 'SelectUser', { include_role_info: true });
  check(usersDetail, 'describe users');
  const detail = new Map<string, any>((usersDetail.results ?? []).map((r: any) => [String(r.user?.name ?? ''), r]));
  const users: RbacUser[] = (usersReply.usernames as string[]).map((name) => {
    const description = detail.get(name)?.description;
    return { name, ...(description ? { description: String(description) } : {}) };
  });
  const memberships: Record<string, string[]> = {};
  for (const user of users) {
    memberships[user.name] = (detail.get(user.name)?.roles ?? []).map((r: any) => String(r.name)).sort();
  }

  const grants: Record<string, RbacGrant[]> = {};
  for (const role of grantsOf ? grantsOf(roles) : roles.map((r) => r.name)) {
    grants[role] = await listGrants(cluster, role);
  }
  return { users, roles, memberships, grants };
}

/** Every grant of the role, in every database. */
export async function listGrants(cluster: MilvusCluster, role: string): Promise<RbacGrant[]> {
  const what = `list grants of role ${role}`;
  const reply = await call(cluster, what, 'SelectGrant', { entity: { role: { name: role }, db_name: '*' } });
  check(reply, what);
  return (reply.entities ?? []).map((e: any) => ({
    role,
    object: String(e.object?.name ?? ''),
    objectName: String(e.object_name ?? ''),
    dbName: String(e.db_name || 'default'),
    privilege: String(e.grantor?.privilege?.name ?? ''),
  }));
}

/** An "already exists" answer to a create: a retried or repeated copy is fine with it. */
function alreadyExists(reply: unknown): boolean {
  const status = statusOf(reply);
  return Boolean(status && !isStatusOk(status) && /already exist|is existed|exists already/i.test(`${status.reason ?? ''} ${status.detail ?? ''}`));
}

/** Log levels at which the SDK writes every request, CreateCredential's password (base64) included. */
const REQUEST_LOG_LEVELS = new Set(['debug', 'verbose', 'silly']);

/** Runs `work` with the SDK's (process-wide) logger above the level that logs request bodies. */
async function withoutRequestLog<T>(work: () => Promise<T>): Promise<T> {
  const level = sdkLogger.level;
  if (!REQUEST_LOG_LEVELS.has(level)) return work();
  sdkLogger.level = 'info';
  try {
    return await work();
  } finally {
    sdkLogger.level = level;
  }
}

/**
 * Creates a user with the given password. The password travels only in the request: the SDK's
 * request log is held off during the call, a failure is reported with the server's reason with
 * the password cut out and without the original error attached. Returns false when the user
 * exists already.
 */
export async function createUser(cluster: MilvusCluster, user: RbacUser, password: string): Promise<boolean> {
  const what = `create user ${user.name}`;
  // Same class and code as the original, the password cut out of the message, nothing attached.
  const scrubbed = (error: MigrationError): MigrationError => {
    const message = error.message.split(password).join('[redacted]');
    return error instanceof TransientError ? new TransientError(error.code, message) : new PermanentError(error.code, message);
  };
  let reply: unknown;
  try {
    const client = cluster.client('default'); // constructed (and its log level set) before the guard
    reply = await withoutRequestLog(() =>
      milvusCall(what, () => client.createUser({ username: user.name, password, ...(user.description ? { description: user.description } : {}) }), {
        idempotent: false,
      }),
    );
  } catch (error) {
    throw scrubbed(toMigrationError(error, what));
  }
  if (alreadyExists(reply)) return false;
  const status = statusOf(reply);
  if (!status) throw new PermanentError('MILVUS_UNIMPLEMENTED', `${what}: the server does not implement this call`);
  if (!isStatusOk(status)) throw scrubbed(statusToError(status, what));
  return true;
}

/** Creates a role; false when it exists already. */
export async function createRole(cluster: MilvusCluster, role: RbacRole): Promise<boolean> {
  const what = `create role ${role.name}`;
  const reply = await milvusCall(what, () =>
    rawCall(cluster.client('default'), 'CreateRole', { entity: { name: role.name, ...(role.description ? { description: role.description } : {}) } }),
  );
  if (alreadyExists(reply)) return false;
  check(reply, what);
  return true;
}

/** Adds the user to the role (the caller checks the membership is missing; Milvus may refuse a repeat). */
export async function addUserToRole(cluster: MilvusCluster, user: string, role: string): Promise<void> {
  const what = `add user ${user} to role ${role}`;
  const reply = await milvusCall(
    what,
    () => rawCall(cluster.client('default'), 'OperateUserRole', { username: user, role_name: role, type: OperateUserRoleType.AddUserToRole }),
    { idempotent: true },
  );
  if (alreadyExists(reply)) return;
  check(reply, what);
}

/**
 * Grants a privilege on an object of a database (V1 OperatePrivilege, with the database in the
 * entity rather than taken from the connection). Granting an existing grant again is harmless.
 */
export async function grantPrivilege(cluster: MilvusCluster, grant: RbacGrant): Promise<void> {
  const what = `grant ${grant.privilege} on ${grant.object} ${grant.dbName}.${grant.objectName} to role ${grant.role}`;
  const reply = await milvusCall(
    what,
    () =>
      rawCall(cluster.client('default'), 'OperatePrivilege', {
        entity: {
          role: { name: grant.role },
          object: { name: grant.object },
          object_name: grant.objectName,
          db_name: grant.dbName,
          grantor: { privilege: { name: grant.privilege } },
        },
        type: OperatePrivilegeType.Grant,
      }),
    { idempotent: true },
  );
  if (alreadyExists(reply)) return;
  check(reply, what);
}
