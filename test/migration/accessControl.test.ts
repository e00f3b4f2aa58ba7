import { DataType, OperatePrivilegeType } from '@zilliz/milvus2-sdk-node';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { handler } from '../../functions/steps/copyAccessControl';
import type { MigrationService } from '../../lib/api/service';
import { copyAccessControl, PASSWORD_RESET_WARNING } from '../../lib/migration/copyAccessControl';
import { preflight } from '../../lib/migration/preflight';
import { openCluster } from '../../lib/milvus';
import { grpcCall } from '../support/milvusClients';
import type { Services } from '../../lib/services';
import { type FakeMilvus, type FakeMilvusState, startFakeMilvus } from '../support/fakeMilvus';
import { ok, trackedClients } from '../support/milvusClients';
import { stepServices } from '../support/stepServices';

/**
 * options.includeRbac: users, roles, memberships and grants copied from source to target, on
 * in-memory servers that model RBAC (test/support/fakeMilvus), and on milvus-lite, which has none.
 */

const prefix = `rbac_${randomBytes(3).toString('hex')}`;
const SOURCE_PASSWORDS = { alice: 'alice-source-pw-1', bob: 'bob-source-pw-1', carol: 'carol-source-pw-1' };
const BOB_TARGET_PASSWORD = 'bob-target-pw-1';

let source: FakeMilvus;
let target: FakeMilvus;
let services: Services;
let service: MigrationService;
const servers: FakeMilvus[] = [];

const { client, closeAll: closeClients } = trackedClients();

async function fake(): Promise<FakeMilvus> {
  const server = await startFakeMilvus({ version: 'v2.6.1' });
  servers.push(server);
  return server;
}

async function grant(uri: string, role: string, object: string, objectName: string, dbName: string, privilege: string): Promise<void> {
  await ok(
    grpcCall(client(uri), 'OperatePrivilege', {
      entity: { role: { name: role }, object: { name: object }, object_name: objectName, db_name: dbName, grantor: { privilege: { name: privilege } } },
      type: OperatePrivilegeType.Grant,
    }),
  );
}

async function seedCollection(uri: string, db: string, name: string): Promise<void> {
  const c = client(uri, db);
  await ok(
    c.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'vec', data_type: DataType.FloatVector, dim: 2 },
      ],
    } as never),
  );
  await ok(c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'AUTOINDEX', metric_type: 'L2' } as never));
}

async function newJob(uris: { source: string; target: string }, body: Record<string, unknown>): Promise<string> {
  const job = (await service.create({ type: 'offline', source: { uri: uris.source }, target: { uri: uris.target }, ...body })) as unknown as { jobId: string };
  return job.jobId;
}

/** The target's RBAC as the server holds it, passwords included, in a stable order. */
function rbacOf(state: FakeMilvusState) {
  const { users, roles, grants } = state.rbac;
  return {
    users: Object.fromEntries([...users].sort(([a], [b]) => a.localeCompare(b)).map(([name, u]) => [name, { password: u.password, roles: [...u.roles].sort() }])),
    roles: [...roles].sort(),
    grants: grants.map((g) => `${g.role}: ${g.privilege} on ${g.object} ${g.db_name}.${g.object_name}`).sort(),
  };
}

async function eventsOf(jobId: string, type?: string) {
  const items = (await services.jobs.listEvents(jobId, { limit: 1000 })).items;
  return type ? items.filter((e) => e.type === type) : items;
}

/**
 * Runs the Lambda handler of the step, capturing everything it (and the SDK) writes. `sdkDebug`:
 * the step's Milvus clients log at debug, where the SDK writes every request body.
 */
async function runStep(jobId: string, options: { sdkDebug?: boolean } = {}): Promise<{ output: unknown; written: string }> {
  const given: Services = options.sdkDebug ? { ...services, openCluster: (credentials) => openCluster(credentials, { logLevel: 'debug' }) } : services;
  const chunks: string[] = [];
  const capture = (...args: unknown[]) => {
    chunks.push(args.map((a) => (typeof a === 'string' ? a : Buffer.isBuffer(a) ? a.toString() : JSON.stringify(a))).join(' '));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(capture as never),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture as never),
    ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => vi.spyOn(console, m).mockImplementation(capture)),
    // The SDK's winston Console transport writes to console._stdout / _stderr (vitest's own streams here).
    ...(['_stdout', '_stderr'] as const)
      .map((k) => (console as unknown as Record<string, NodeJS.WriteStream | undefined>)[k])
      .filter((stream): stream is NodeJS.WriteStream => Boolean(stream) && stream !== process.stdout && stream !== process.stderr)
      .map((stream) => vi.spyOn(stream, 'write').mockImplementation(capture as never)),
  ];
  try {
    const output = await handler.withServices(() => given)({ jobId });
    return { output, written: chunks.join('\n') };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

beforeAll(async () => {
  [source, target] = await Promise.all([fake(), fake()]);
  ({ services, service } = await stepServices(`jobs-${prefix}`, openCluster));

  const s = client(source.uri);
  await ok(s.createDatabase({ db_name: 'shop' } as never));
  await seedCollection(source.uri, 'shop', 'items');
  await seedCollection(source.uri, 'shop', 'orders');
  for (const [username, password] of Object.entries(SOURCE_PASSWORDS)) await ok(s.createUser({ username, password }));
  for (const roleName of ['reader', 'writer', 'auditor']) await ok(s.createRole({ roleName }));
  for (const [username, roleName] of [['alice', 'reader'], ['alice', 'writer'], ['bob', 'reader'], ['bob', 'admin']]) {
    await ok(s.addUserToRole({ username: username!, roleName: roleName! }));
  }
  await grant(source.uri, 'reader', 'Collection', 'items', 'shop', 'Query');
  await grant(source.uri, 'reader', 'Collection', '*', 'shop', 'DescribeCollection');
  await grant(source.uri, 'reader', 'Global', '*', '*', 'ListDatabases');
  await grant(source.uri, 'writer', 'Collection', 'items', 'shop', 'Insert');
  // Not migrated by the job: a collection it does not choose, a database it does not name.
  await grant(source.uri, 'writer', 'Collection', 'orders', 'shop', 'Insert');
  await grant(source.uri, 'writer', 'Collection', 'x', 'other', 'Query');
  // A built-in role's grant.
  await grant(source.uri, 'public', 'Collection', '*', 'shop', 'Query');

  // The target knows bob already (with its own password) and the writer role with one of its grants.
  const t = client(target.uri);
  await ok(t.createUser({ username: 'bob', password: BOB_TARGET_PASSWORD }));
  await ok(t.createRole({ roleName: 'writer' }));
  await grant(target.uri, 'writer', 'Collection', 'items_v2', 'shop_eu', 'Insert');
});

afterAll(async () => {
  await closeClients();
  await Promise.all(servers.map((s) => s.stop()));
});

describe('includeRbac between servers with RBAC', () => {
  let jobId: string;
  let firstWrite: string;

  it('copies users, roles, memberships and grants, mapped to the renamed database and collection', async () => {
    jobId = await newJob(
      { source: source.uri, target: target.uri },
      { databases: [{ name: 'shop', targetName: 'shop_eu', collections: [{ name: 'items', targetName: 'items_v2' }] }], options: { includeRbac: true } },
    );
    await preflight(services, { jobId });
    const { output, written } = await runStep(jobId, { sdkDebug: true });
    firstWrite = written;
    expect(output).toEqual({ skipped: false, users: 3, roles: 3, grants: 4 });

    const after = rbacOf(target.state);
    expect(Object.keys(after.users)).toEqual(['alice', 'bob', 'carol', 'root']);
    expect(after.roles).toEqual(['admin', 'auditor', 'public', 'reader', 'writer']);
    expect(Object.fromEntries(Object.entries(after.users).map(([name, u]) => [name, u.roles]))).toEqual({
      alice: ['reader', 'writer'],
      bob: ['admin', 'reader'],
      carol: [],
      root: ['admin'],
    });
    expect(after.grants).toEqual([
      'reader: DescribeCollection on Collection shop_eu.*',
      'reader: ListDatabases on Global *.*',
      'reader: Query on Collection shop_eu.items_v2',
      'writer: Insert on Collection shop_eu.items_v2',
    ]);
  });

  it('creates missing users with random passwords, keeps the password of a user the target had, and warns whose to reset', async () => {
    const { users } = rbacOf(target.state);
    expect(users.bob!.password).toBe(BOB_TARGET_PASSWORD);
    for (const name of ['alice', 'carol'] as const) {
      expect(users[name]!.password.length).toBeGreaterThanOrEqual(32);
      expect(users[name]!.password).not.toBe(SOURCE_PASSWORDS[name]);
    }
    expect(users.alice!.password).not.toBe(users.carol!.password);

    const job = (await services.jobs.get(jobId))!;
    expect(job.warnings.filter((w) => w.startsWith(PASSWORD_RESET_WARNING))).toEqual([`${PASSWORD_RESET_WARNING} alice, carol`]);
    const outOfScope = job.warnings.find((w) => w.includes('this job does not migrate'));
    expect(outOfScope).toContain('2 grant(s)');
    expect(outOfScope).toContain('writer: Insert on Collection shop.orders');
    expect(outOfScope).toContain('writer: Query on Collection other.x');
  });

  it('leaves the built-ins alone and records one AccessControlCopied event naming them', async () => {
    expect(rbacOf(target.state).grants.some((g) => g.startsWith('public:'))).toBe(false);
    const events = await eventsOf(jobId, 'AccessControlCopied');
    expect(events).toHaveLength(1);
    expect(events[0]!.message).toContain('3 user(s), 3 role(s) and 4 grant(s)');
    expect(events[0]!.message).toContain('built-ins left alone: root, admin, public');
    expect(events[0]!.details).toEqual({
      created: { users: 2, roles: 2, memberships: 4, grants: 3 },
      existing: { users: 1, roles: 1, memberships: 0, grants: 1 },
      builtinsSkipped: { users: ['root'], roles: ['admin', 'public'] },
      passwordResetRequired: ['alice', 'carol'],
      grantsOutOfScope: 2,
      grantsRefused: 0,
    });
  });

  it('puts no password in the job record, its events, the step output or anything written', async () => {
    const { users } = rbacOf(target.state);
    const plain = [users.alice!.password, users.carol!.password, BOB_TARGET_PASSWORD, ...Object.values(SOURCE_PASSWORDS)];
    // CreateCredential carries the password base64-encoded.
    const secrets = [...plain, ...plain.map((p) => Buffer.from(p).toString('base64'))];
    const record = JSON.stringify(await services.jobs.get(jobId));
    const events = JSON.stringify(await eventsOf(jobId));
    // The scan sees what it must: names are there, the step logged its line, the SDK its requests.
    expect(record).toContain('alice');
    expect(events).toContain('AccessControlCopied');
    expect(firstWrite).toContain('copyAccessControl');
    expect(firstWrite).toContain('ListCredUsers');
    for (const secret of secrets) {
      expect(record).not.toContain(secret);
      expect(events).not.toContain(secret);
      expect(firstWrite).not.toContain(secret);
    }
  });

  it('is idempotent: a second run changes nothing on the target and adds no warning', async () => {
    const before = rbacOf(target.state);
    const warningsBefore = (await services.jobs.get(jobId))!.warnings;
    const { output, written } = await runStep(jobId);
    expect(output).toEqual({ skipped: false, users: 3, roles: 3, grants: 4 });
    expect(rbacOf(target.state)).toEqual(before);
    expect((await services.jobs.get(jobId))!.warnings).toEqual(warningsBefore);
    const events = await eventsOf(jobId, 'AccessControlCopied');
    expect(events).toHaveLength(2);
    expect(events[1]!.details).toMatchObject({
      created: { users: 0, roles: 0, memberships: 0, grants: 0 },
      existing: { users: 3, roles: 3, memberships: 4, grants: 4 },
    });
    for (const secret of [before.users.alice!.password, before.users.carol!.password]) expect(written).not.toContain(secret);
  });

  it('names in a later warning only the users created by that run', async () => {
    await ok(client(source.uri).createUser({ username: 'dave', password: 'dave-source-pw-1' }));
    try {
      await runStep(jobId);
      const job = (await services.jobs.get(jobId))!;
      expect(job.warnings.filter((w) => w.startsWith(PASSWORD_RESET_WARNING))).toEqual([`${PASSWORD_RESET_WARNING} alice, carol`, `${PASSWORD_RESET_WARNING} dave`]);
      expect(rbacOf(target.state).users.dave!.password).not.toBe('dave-source-pw-1');
    } finally {
      await ok(client(source.uri).deleteUser({ username: 'dave' }));
    }
  });
});

describe('includeRbac off, or a cluster without RBAC', () => {
  it('does nothing when the option is off', async () => {
    const fresh = await fake();
    const before = rbacOf(fresh.state);
    const jobId = await newJob({ source: source.uri, target: fresh.uri }, { databases: [{ name: 'shop', collections: [{ name: 'items' }] }] });
    expect(await copyAccessControl(services, { jobId })).toEqual({ skipped: true, users: 0, roles: 0, grants: 0 });
    expect(rbacOf(fresh.state)).toEqual(before);
    expect(Object.keys(before.users)).toEqual(['root']);
    expect(await eventsOf(jobId, 'AccessControlCopied')).toHaveLength(0);
    expect((await services.jobs.get(jobId))!.warnings).toEqual([]);
  });

  it('turns a source without RBAC (milvus-lite) into a warning, not a failure', async () => {
    const fresh = await fake();
    const before = rbacOf(fresh.state);
    const jobId = await newJob({ source: inject('milvusSourceUri'), target: fresh.uri }, { options: { includeRbac: true } });
    expect(await copyAccessControl(services, { jobId })).toEqual({ skipped: true, users: 0, roles: 0, grants: 0 });
    expect(rbacOf(fresh.state)).toEqual(before);
    const job = (await services.jobs.get(jobId))!;
    expect(job.warnings).toEqual(['includeRbac: the source cluster does not support users and roles (RBAC); none were copied']);
    expect(job.status).not.toBe('FAILED');
    const [event] = await eventsOf(jobId, 'AccessControlCopied');
    expect(event!.details).toMatchObject({ skipped: true });
  });

  it('turns a target without RBAC (milvus-lite) into a warning, and a rerun adds no second one', async () => {
    const jobId = await newJob({ source: source.uri, target: inject('milvusTargetUri') }, { databases: [{ name: 'shop' }], options: { includeRbac: true } });
    expect(await copyAccessControl(services, { jobId })).toMatchObject({ skipped: true });
    expect(await copyAccessControl(services, { jobId })).toMatchObject({ skipped: true });
    expect((await services.jobs.get(jobId))!.warnings).toEqual(['includeRbac: the target cluster does not support users and roles (RBAC); none were copied']);
  });
});
