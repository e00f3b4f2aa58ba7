import { describe, expect, it } from 'vitest';
import { CreateMigrationBody, MILVUS_NAME, matchResource, parseRequest } from '../../lib/api/requests';
import { issuesOf } from './support/requestIssues';

const source = { uri: 'source:19530', token: 't' };
const target = { uri: 'http://target:19530' };

describe('CreateMigrationBody', () => {
  it('moves the default database when an offline job names none, and fills option defaults', () => {
    const parsed = parseRequest(CreateMigrationBody, { type: 'offline', source, target }, 'body');
    expect(parsed.databases).toEqual([{ name: 'default' }]);
    expect(parsed.options).toEqual({
      indexPolicy: 'autoindex',
      rowsPerShard: 200_000,
      shardConcurrency: 4,
      batchBytes: 1024 * 1024,
      existingTarget: 'fail',
      loadAfterMigration: false,
      includeRbac: false,
      lagAlertSeconds: 10,
      syncTimeoutSeconds: 7 * 24 * 3600,
      lagPollSeconds: 5,
      syncStrategy: 'snapshot-diff',
      switchover: false,
      captureWriteTimeoutSeconds: 30,
      comparisonIntervalSeconds: 21_600,
    });
  });

  it('takes a schema mapping per collection and refuses what it can see is wrong, naming the field and the rule', () => {
    const mapping = { description: 'd', autoId: true, fields: { title: { nullable: true, defaultValue: 'x' } }, partitionKey: { field: 'tenant', numPartitions: 8 }, dynamicField: false, shardsNum: 2 };
    const parsed = parseRequest(CreateMigrationBody, { type: 'offline', source, target, databases: [{ name: 'db', collections: [{ name: 'c', mapping }] }] }, 'body');
    expect(parsed.databases[0]?.collections?.[0]?.mapping).toEqual(mapping);
    const bad = (m: unknown) => issuesOf({ type: 'offline', source, target, databases: [{ name: 'db', collections: [{ name: 'c', mapping: m }] }] });
    expect(bad({ partitionKey: { field: 'tenant' }, fields: { tenant: { nullable: true } } })).toEqual([
      'databases[0].collections[0].mapping.fields.tenant.nullable: field tenant is the partition key, which cannot be nullable',
    ]);
    expect(bad({ shardsNum: 0 })[0]).toMatch(/^databases\[0\]\.collections\[0\]\.mapping\.shardsNum: /);
    expect(bad({ partitionKey: { field: 'tenant', numPartitions: 5000 } })[0]).toMatch(/mapping\.partitionKey\.numPartitions: /);
    expect(bad({ fields: { 'bad name': { nullable: true } } })[0]).toMatch(/mapping\.fields/);
    expect(bad({ fields: { title: { nullable: 'yes' } } })[0]).toMatch(/mapping\.fields\.title\.nullable: /);
    expect(bad({ renameTo: 'x' })).toEqual(['databases[0].collections[0].mapping: unknown field renameTo']);
  });

  it('refuses switchover with a mapping that turns the dynamic field off, naming the collection; renames and other mappings switch over', () => {
    const online = (mapping: unknown, options: Record<string, unknown> = { syncStrategy: 'capture', switchover: true }) => ({
      type: 'online',
      source,
      target,
      databases: [{ name: 'shop', targetName: 'shop2', collections: [{ name: 'keep' }, { name: 'docs', targetName: 'docs_v2', mapping }] }],
      options,
    });
    expect(issuesOf(online({ dynamicField: false }))).toEqual([
      'databases[0].collections[1].mapping.dynamicField: collection shop.docs: switchover cannot be transparent when the mapping turns the dynamic field off: the target drops the dynamic keys that inserts, filters and output fields sent through the capture endpoint name (leave dynamicField out, or switchover off)',
    ]);
    // Without switchover the applications never see the target through the endpoint.
    expect(parseRequest(CreateMigrationBody, online({ dynamicField: false }, { syncStrategy: 'capture' }), 'body').databases[0]?.collections?.[1]?.mapping).toEqual({ dynamicField: false });
    const accepted = parseRequest(CreateMigrationBody, online({ dynamicField: true, description: 'd', shardsNum: 2, fields: { title: { nullable: true } } }), 'body');
    expect(accepted.options.switchover).toBe(true);
    expect(accepted.databases[0]?.collections?.[1]?.targetName).toBe('docs_v2');
  });

  it("takes options.existingTarget 'fail', 'skip' or 'append', and refuses anything else naming the field", () => {
    for (const existingTarget of ['fail', 'skip', 'append'] as const) {
      expect(parseRequest(CreateMigrationBody, { type: 'offline', source, target, options: { existingTarget } }, 'body').options.existingTarget).toBe(existingTarget);
    }
    const issues = issuesOf({ type: 'offline', source, target, options: { existingTarget: 'overwrite' } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^options\.existingTarget: /);
  });

  it('moves every database when an online job names none', () => {
    expect(parseRequest(CreateMigrationBody, { type: 'online', source, target }, 'body').databases).toEqual([]);
  });

  it('accepts several databases with renames in an online job', () => {
    const databases = [
      { name: 'a', targetName: 'a2', collections: [{ name: '_c1' }, { name: 'C_2', targetName: 'c2' }] },
      { name: 'b' },
    ];
    expect(parseRequest(CreateMigrationBody, { type: 'online', source, target, databases }, 'body').databases).toEqual(databases);
  });

  it('names every bad field at once', () => {
    expect(issuesOf({ type: 'offline', source: {}, target: { uri: 'x y' }, options: { batchBytes: 1 } })).toEqual([
      'source.uri: uri is required',
      'target.uri: uri must be host:port or http(s)://host[:port]',
      'options.batchBytes: Too small: expected number to be >=65536',
    ]);
  });

  it('bounds the rows per batch by what one query can return', () => {
    expect(issuesOf({ type: 'offline', source, target, options: { batchRows: 0 } })).toEqual(['options.batchRows: Too small: expected number to be >=1']);
    expect(issuesOf({ type: 'offline', source, target, options: { batchRows: 16_385 } })).toEqual(['options.batchRows: Too big: expected number to be <=16384']);
    expect(parseRequest(CreateMigrationBody, { type: 'offline', source, target, options: { batchRows: 4096 } }, 'body').options.batchRows).toBe(4096);
  });

  it('refuses unknown fields at every level', () => {
    expect(issuesOf({ type: 'offline', source, target, databases: [{ name: 'a', colections: [] }] })).toEqual(['databases[0]: unknown field colections']);
    expect(issuesOf({ type: 'offline', source: { ...source, tokn: 'x' }, target })).toEqual(['source: unknown field tokn']);
  });

  it('refuses repeated source and target names', () => {
    expect(issuesOf({ type: 'online', source, target, databases: [{ name: 'a' }, { name: 'b', targetName: 'a' }] })).toEqual([
      'databases[1].targetName: target database a is named twice',
    ]);
    expect(issuesOf({ type: 'online', source, target, databases: [{ name: 'a' }, { name: 'a', targetName: 'c' }] })).toEqual([
      'databases[1].name: database a is named twice',
    ]);
    expect(issuesOf({ type: 'offline', source, target, databases: [{ name: 'a', collections: [{ name: 'x' }, { name: 'x', targetName: 'z' }] }] })).toEqual([
      'databases[0].collections[1].name: collection x is named twice',
    ]);
  });

  it('refuses empty lists that would be ambiguous', () => {
    expect(issuesOf({ type: 'online', source, target, databases: [] })[0]).toMatch(/^databases: name at least one database/);
    expect(issuesOf({ type: 'online', source, target, databases: [{ name: 'a', collections: [] }] })[0]).toMatch(/^databases\[0\]\.collections: name at least one/);
  });
});

describe('MILVUS_NAME', () => {
  it.each(['a', '_', 'Books_2024', '_x9', 'a'.repeat(255)])('accepts %s', (name) => {
    expect(MILVUS_NAME.test(name)).toBe(true);
  });
  it.each(['', '9a', 'with-dash', 'dotted.name', 'space name', 'é', 'a'.repeat(256)])('refuses %j', (name) => {
    expect(MILVUS_NAME.test(name)).toBe(false);
  });
});

describe('matchResource', () => {
  it('maps paths to the resource templates with decoded parameters', () => {
    expect(matchResource('/migrations')).toEqual({ resource: '/migrations', pathParameters: {} });
    expect(matchResource('/migrations/')).toEqual({ resource: '/migrations', pathParameters: {} });
    expect(matchResource('/migrations/mig%2D1/events')).toEqual({ resource: '/migrations/{id}/events', pathParameters: { id: 'mig-1' } });
    expect(matchResource('/migrations/mig-1/other')).toBeUndefined();
    expect(matchResource('/migrations//events')).toBeUndefined();
  });
});
