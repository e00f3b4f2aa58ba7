import { randomBytes } from 'node:crypto';
import { MigrationError } from '../errors';
import type { JobWithCollections } from '../jobs/model';
import type { MilvusGateway } from '../milvus';
import {
  addUserToRole,
  createRole,
  createUser,
  grantKey,
  grantPrivilege,
  listGrants,
  readRbac,
  type RbacGrant,
  type RbacRole,
  type RbacSnapshot,
} from '../milvus/rbac';
import type { Services } from '../services';
import type { JobInput } from '../workflow/steps';
import { loadActiveJob, withClusters } from './jobContext';

/**
 * Copies users, roles, memberships and grants from the source to the target
 * (`options.includeRbac`), after Verify.
 *
 * Passwords: Milvus never gives a password back, so none can be copied. A user missing on the
 * target is created with a random password (192 random bits) that is generated in memory, sent
 * once in the CreateCredential request and then forgotten: it is never stored, logged, put in an
 * event, a warning or an error. Before the users are created, the job gets a warning naming them:
 * an operator resets each password (as root) before the user connects. A user that exists on the
 * target already keeps its password; only the memberships it lacks are added.
 *
 * Built-ins: the user `root` and the roles `admin` and `public` exist on every cluster and are
 * left alone (not created, root's memberships and the built-in roles' grants not copied; the event
 * names them). Memberships of copied users in `admin` or `public` are copied.
 *
 * Grants are mapped to the names the job uses on the target: the database to its `targetName`,
 * a collection to its `targetName`. A grant on a database or collection the job does not migrate
 * is not copied (it would open whatever holds that name on the target) and the job gets a
 * warning counting them; grants on `*` (every database or collection) are copied as they are.
 *
 * Additive and idempotent: nothing on the target is revoked, dropped or changed; what exists
 * already (a user, role, membership or grant) is left as it is, so a second run creates nothing.
 * A cluster without RBAC (milvus-lite) makes the step a warning, not a failure; a target that
 * refuses one grant (a privilege its version does not know) gets a warning naming it; refused
 * credentials or a missing privilege to manage users fail the step.
 */

export interface AccessControlOutcome {
  /** True when nothing was copied: the option is off, or a cluster has no RBAC (a warning says which). */
  skipped: boolean;
  /** Source users (built-ins aside) now on the target, created or found there. */
  users: number;
  /** Source roles (built-ins aside) now on the target, created or found there. */
  roles: number;
  /** Grants of those roles, mapped to the target's names, now on the target. */
  grants: number;
}

const BUILTIN_USERS: readonly string[] = ['root'];
const BUILTIN_ROLES: readonly string[] = ['admin', 'public'];

/** Start of the warning that names the users whose password must be reset (one name list after it). */
export const PASSWORD_RESET_WARNING =
  'includeRbac: users created on the target with a random password that was never stored or shown; reset each password (as root) before the user connects:';

/** At most this many items are named in a warning; the rest are counted. */
const LISTED = 20;

const listed = (items: string[]): string => (items.length > LISTED ? `${items.slice(0, LISTED).join(', ')} and ${items.length - LISTED} more` : items.join(', '));

/** 192 random bits, with an upper case letter, a lower case letter and a digit for servers that insist on them. */
function randomPassword(): string {
  return `Aa1${randomBytes(24).toString('base64url')}`;
}

interface DatabaseScope {
  target: string;
  /** Source name -> target name; undefined when the whole database moves under the same names. */
  collections?: Map<string, string>;
}

/** The databases and collections the job migrates, keyed by source name, with their target names. */
function scopeOf(job: JobWithCollections): Map<string, DatabaseScope> {
  const scope = new Map<string, DatabaseScope>();
  for (const d of job.databases) {
    scope.set(d.name, {
      target: d.targetName ?? d.name,
      ...(d.collections ? { collections: new Map(d.collections.map((c) => [c.name, c.targetName ?? c.name])) } : {}),
    });
  }
  // Online jobs over every database name none: their collections say which databases move.
  for (const c of Object.values(job.collections)) {
    const database = scope.get(c.sourceDb);
    if (!database) scope.set(c.sourceDb, { target: c.targetDb });
    else database.collections?.set(c.sourceName, c.targetName);
  }
  return scope;
}

/** The grant as the target must hold it, or undefined when it concerns what the job does not migrate. */
function mapGrant(job: JobWithCollections): (grant: RbacGrant) => RbacGrant | undefined {
  const scope = scopeOf(job);
  return (grant) => {
    // A grant on every database names no database of the job; a collection name under it is kept.
    if (grant.dbName === '*') return { ...grant };
    const database = scope.get(grant.dbName);
    if (!database) return undefined;
    if (grant.object === 'Collection' && grant.objectName !== '*') {
      const name = database.collections ? database.collections.get(grant.objectName) : grant.objectName;
      if (name === undefined) return undefined;
      return { ...grant, dbName: database.target, objectName: name };
    }
    return { ...grant, dbName: database.target };
  };
}

const describeGrant = (g: RbacGrant): string => `${g.role}: ${g.privilege} on ${g.object} ${g.dbName}.${g.objectName}`;

/** Codes of a grant the target refuses for what it is (not for who asks): a warning, not a failure. */
const REFUSED_GRANT_CODES = new Set(['MILVUS_REFUSED', 'MILVUS_INVALID_ARGUMENT', 'COLLECTION_NOT_FOUND', 'DATABASE_NOT_FOUND']);

interface CopyResult {
  outcome: AccessControlOutcome;
  warnings: string[];
  message: string;
  details: Record<string, unknown>;
}

export async function copyAccessControl(services: Services, { jobId }: JobInput): Promise<AccessControlOutcome> {
  const job = await loadActiveJob(services, jobId);
  if (!job.options.includeRbac) return { skipped: true, users: 0, roles: 0, grants: 0 };

  const known = new Set(job.warnings);
  const warn = async (warnings: string[]): Promise<void> => {
    const fresh = warnings.filter((w) => !known.has(w));
    if (fresh.length === 0) return;
    await services.jobs.update(jobId, { addWarnings: fresh });
    for (const w of fresh) known.add(w);
  };

  const result = await withClusters(services, job, ({ source, target }) => copy(job, source, target, warn));
  await warn(result.warnings);
  await services.jobs.appendEvent(jobId, { type: 'AccessControlCopied', message: result.message, details: result.details });
  return result.outcome;
}

function unsupported(side: 'source' | 'target'): CopyResult {
  const warning = `includeRbac: the ${side} cluster does not support users and roles (RBAC); none were copied`;
  return {
    outcome: { skipped: true, users: 0, roles: 0, grants: 0 },
    warnings: [warning],
    message: `users, roles and grants not copied: the ${side} cluster does not support RBAC`,
    details: { skipped: true, reason: `${side} without RBAC` },
  };
}

/** Names of users already listed in an earlier password warning of this job (a retried step does not list them twice). */
function usersAlreadyWarned(warnings: Iterable<string>): Set<string> {
  const names = new Set<string>();
  for (const w of warnings) {
    if (!w.startsWith(PASSWORD_RESET_WARNING)) continue;
    for (const name of w.slice(PASSWORD_RESET_WARNING.length).split(',')) names.add(name.trim());
  }
  return names;
}

async function copy(job: JobWithCollections, source: MilvusGateway, target: MilvusGateway, warn: (w: string[]) => Promise<void>): Promise<CopyResult> {
  const custom = (roles: RbacRole[]) => roles.map((r) => r.name).filter((name) => !BUILTIN_ROLES.includes(name));
  const from: RbacSnapshot | undefined = await readRbac(source, custom);
  if (!from) return unsupported('source');
  const to: RbacSnapshot | undefined = await readRbac(target, () => []);
  if (!to) return unsupported('target');

  const warnings: string[] = [];
  const created = { users: 0, roles: 0, memberships: 0, grants: 0 };
  const existing = { users: 0, roles: 0, memberships: 0, grants: 0 };

  // Users: the warning goes on the job before any is created, so no crash can leave one unnamed.
  const users = from.users.filter((u) => !BUILTIN_USERS.includes(u.name));
  const targetUsers = new Set(to.users.map((u) => u.name));
  const missingUsers = users.filter((u) => !targetUsers.has(u.name));
  const warned = usersAlreadyWarned(job.warnings);
  const toName = missingUsers.map((u) => u.name).filter((name) => !warned.has(name));
  if (toName.length > 0) await warn([`${PASSWORD_RESET_WARNING} ${toName.join(', ')}`]);
  for (const user of users) {
    if (targetUsers.has(user.name)) existing.users += 1;
    else if (await createUser(target, user, randomPassword())) created.users += 1;
    else existing.users += 1; // created by an earlier try of this step
  }

  const roles = from.roles.filter((r) => !BUILTIN_ROLES.includes(r.name));
  const targetRoles = new Set(to.roles.map((r) => r.name));
  for (const role of roles) {
    if (targetRoles.has(role.name)) existing.roles += 1;
    else if (await createRole(target, role)) created.roles += 1;
    else existing.roles += 1;
  }

  for (const user of users) {
    const has = new Set(to.memberships[user.name] ?? []);
    for (const role of from.memberships[user.name] ?? []) {
      if (has.has(role)) {
        existing.memberships += 1;
        continue;
      }
      await addUserToRole(target, user.name, role);
      created.memberships += 1;
    }
  }

  const toTarget = mapGrant(job);
  const outOfScope: string[] = [];
  const refused: string[] = [];
  let grants = 0;
  for (const role of roles) {
    const present = new Set((await listGrants(target, role.name)).map(grantKey));
    for (const grant of from.grants[role.name] ?? []) {
      const mapped = toTarget(grant);
      if (!mapped) {
        outOfScope.push(describeGrant(grant));
        continue;
      }
      const key = grantKey(mapped);
      if (present.has(key)) {
        existing.grants += 1;
        grants += 1;
        continue;
      }
      try {
        await grantPrivilege(target, mapped);
      } catch (error) {
        if (!(error instanceof MigrationError) || !REFUSED_GRANT_CODES.has(error.code)) throw error;
        refused.push(`${describeGrant(mapped)} (${error.message})`);
        continue;
      }
      present.add(key);
      created.grants += 1;
      grants += 1;
    }
  }
  if (outOfScope.length > 0) {
    warnings.push(`includeRbac: ${outOfScope.length} grant(s) on databases or collections this job does not migrate were not copied: ${listed(outOfScope)}`);
  }
  if (refused.length > 0) warnings.push(`includeRbac: the target refused ${refused.length} grant(s), not copied: ${listed(refused)}`);

  const builtins = {
    users: from.users.map((u) => u.name).filter((name) => BUILTIN_USERS.includes(name)),
    roles: from.roles.map((r) => r.name).filter((name) => BUILTIN_ROLES.includes(name)),
  };
  const outcome = { skipped: false, users: users.length, roles: roles.length, grants };
  return {
    outcome,
    warnings,
    message:
      `${outcome.users} user(s), ${outcome.roles} role(s) and ${outcome.grants} grant(s) on the target ` +
      `(created ${created.users} user(s), ${created.roles} role(s), ${created.memberships} membership(s), ${created.grants} grant(s)); ` +
      `built-ins left alone: ${[...builtins.users, ...builtins.roles].join(', ') || 'none'}`,
    details: {
      created,
      existing,
      builtinsSkipped: builtins,
      passwordResetRequired: missingUsers.map((u) => u.name),
      grantsOutOfScope: outOfScope.length,
      grantsRefused: refused.length,
    },
  };
}
