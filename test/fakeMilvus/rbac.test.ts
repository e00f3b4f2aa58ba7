import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { type FakeMilvus, startFakeMilvus } from '../support/fakeMilvus';

let server: FakeMilvus;
let c: MilvusClient;

beforeAll(async () => {
  server = await startFakeMilvus();
  c = new MilvusClient({ address: server.uri, username: 'root', password: 'Milvus', telemetry: { enabled: false } } as any);
});
afterAll(async () => {
  await c.closeConnection();
  await server.stop();
});

describe('fake Milvus: users, roles and grants through the real SDK', () => {
  it('round-trips users, roles, memberships and grants', async () => {
    expect((await c.listUsers()).usernames).toEqual(['root']);
    expect((await c.createUser({ username: 'alice', password: 'secret-pw' })).error_code).toBe('Success');
    expect((await c.createUser({ username: 'alice', password: 'secret-pw' })).error_code).not.toBe('Success');
    expect((await c.createRole({ roleName: 'reader' })).error_code).toBe('Success');
    expect((await c.addUserToRole({ username: 'alice', roleName: 'reader' })).error_code).toBe('Success');
    const granted = await c.grantRolePrivilege({ roleName: 'reader', object: 'Collection', objectName: 'books', privilegeName: 'Query' } as any);
    expect(granted.error_code).toBe('Success');
    await c.grantRolePrivilege({ roleName: 'reader', object: 'Global', objectName: '*', privilegeName: 'DescribeCollection' } as any);

    expect((await c.listUsers()).usernames).toEqual(['root', 'alice']);
    const roles = await c.listRoles({ includeUserInfo: true } as any);
    const byName = Object.fromEntries(roles.results.map((r: any) => [r.role.name, r.users.map((u: any) => u.name)]));
    expect(byName).toEqual({ admin: ['root'], public: [], reader: ['alice'] });
    const user = await c.describeUser({ username: 'alice', includeRoleInfo: true } as any);
    expect(user.results[0].roles.map((r: any) => r.name)).toEqual(['reader']);

    const grants = await c.listGrants({ roleName: 'reader' } as any);
    expect(grants.entities.map((g: any) => [g.object.name, g.object_name, g.grantor.privilege.name, g.db_name])).toEqual([
      ['Collection', 'books', 'Query', 'default'],
      ['Global', '*', 'DescribeCollection', 'default'],
    ]);
    const dropWithGrants = await c.dropRole({ roleName: 'reader' });
    expect(dropWithGrants.error_code).not.toBe('Success');
    await c.revokeRolePrivilege({ roleName: 'reader', object: 'Collection', objectName: 'books', privilegeName: 'Query' } as any);
    expect((await c.listGrants({ roleName: 'reader' } as any)).entities).toHaveLength(1);

    expect((await c.dropRole({ roleName: 'admin' })).error_code).not.toBe('Success');
    expect((await c.deleteUser({ username: 'alice' })).error_code).toBe('Success');
    expect((await c.listUsers()).usernames).toEqual(['root']);
  });
});
