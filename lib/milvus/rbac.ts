import { PermanentError } from '../errors';
import type { MilvusGateway } from './gateway';
import { isStatusOk, statusCode, statusOf, statusToError } from './status';

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

function check(reply: unknown, what: string): void {
  const status = statusOf(reply);
  if (!status) throw new PermanentError('MILVUS_UNIMPLEMENTED', `${what}: the server does not implement this call`);
  if (!isStatusOk(status)) throw statusToError(status, what);
}

/** The cluster's users, roles, memberships and the grants of `grantsOf` roles; undefined when the server has no RBAC. */
export async function readRbac(cluster: MilvusGateway, grantsOf?: (roles: RbacRole[]) => string[]): Promise<RbacSnapshot | undefined> {
  const usersReply = await cluster.listUsers();
  if (unsupported(usersReply)) return undefined;
  check(usersReply, 'list users');
  if (!Array.isArray(usersReply.usernames)) return undefined;

  const rolesReply = await cluster.listRoles();
  if (unsupported(rolesReply)) return undefined;
  check(rolesReply, 'list roles');
  const roles: RbacRole[] = (rolesReply.results ?? []).map((r: any) => ({
    name: String(r.role?.name ?? ''),
    ...(r.role?.description ? { description: String(r.role.description) } : {}),
  }));

  // SelectUser without a user answers every user with its roles (and its description on 2.6+).
  const usersDetail = await cluster.describeUsers();
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
export async function listGrants(cluster: MilvusGateway, role: string): Promise<RbacGrant[]> {
  const what = `list grants of role ${role}`;
  const reply = await cluster.listGrants(role);
  check(reply, what);
  return (reply.entities ?? []).map((e: any) => ({
    role,
    object: String(e.object?.name ?? ''),
    objectName: String(e.object_name ?? ''),
    dbName: String(e.db_name || 'default'),
    privilege: String(e.grantor?.privilege?.name ?? ''),
  }));
}

/**
 * Creates a user with the given password; false when the user exists already. The gateway keeps
 * the password out of its logs and of what it throws.
 */
export function createUser(cluster: MilvusGateway, user: RbacUser, password: string): Promise<boolean> {
  return cluster.createUser(user, password);
}

/** Creates a role; false when it exists already. */
export function createRole(cluster: MilvusGateway, role: RbacRole): Promise<boolean> {
  return cluster.createRole(role);
}

/** Adds the user to the role (the caller checks the membership is missing; Milvus may refuse a repeat). */
export function addUserToRole(cluster: MilvusGateway, user: string, role: string): Promise<void> {
  return cluster.addUserToRole(user, role);
}

/** Grants a privilege on an object of a database. Granting an existing grant again is harmless. */
export function grantPrivilege(cluster: MilvusGateway, grant: RbacGrant): Promise<void> {
  return cluster.grantPrivilege(grant);
}
