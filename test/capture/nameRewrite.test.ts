import { Metadata } from '@grpc/grpc-js';
import { fromJSON, type MethodDefinition } from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '@zilliz/milvus2-sdk-node';
import { describe, expect, it } from 'vitest';
import { targetNamesOf } from '../../lib/capture/targetNames';
import { methodNameFields, NameTranslator } from '../../lib/milvus/gateway/nameRewrite';
import { milvusProtoJson } from '../../lib/milvus/gateway/rowCodec';

// The rewriting of a switched-over capture endpoint, on messages encoded as the SDK encodes them.
const methods = fromJSON(milvusProtoJson, LOADER_OPTIONS)['milvus.proto.milvus.MilvusService'] as unknown as Record<string, MethodDefinition<object, object>>;
const fields = methodNameFields();
const encode = (method: string, message: object) => methods[method]!.requestSerialize(message);
const decode = (method: string, bytes: Buffer) => methods[method]!.requestDeserialize(bytes) as Record<string, any>;
const encodeReply = (method: string, message: object) => methods[method]!.responseSerialize(message);
const decodeReply = (method: string, bytes: Buffer) => methods[method]!.responseDeserialize(bytes) as Record<string, any>;
const header = (db?: string) => {
  const m = new Metadata();
  m.set('authorization', 'dG9rZW4=');
  if (db) m.set('dbname', db);
  return m;
};

// The job moved database shop to shop2 (docs renamed docs_v2, keep kept) and default.items to default.items_v2.
const names = targetNamesOf([
  { sourceDb: 'shop', sourceName: 'docs', targetDb: 'shop2', targetName: 'docs_v2' },
  { sourceDb: 'shop', sourceName: 'keep', targetDb: 'shop2', targetName: 'keep' },
  { sourceDb: 'default', sourceName: 'items', targetDb: 'default', targetName: 'items_v2' },
  { sourceDb: 'default', sourceName: 'same', targetDb: 'default', targetName: 'same' },
]);
const translator = new NameTranslator(names);
const fieldsData = [{ type: 'Int64', field_name: 'id', scalars: { long_data: { data: ['1', '2'] } }, field_id: '100' }];

describe('switchover name rewriting', () => {
  it('keeps only what is renamed; a job that renames nothing rewrites nothing', () => {
    expect(names.databases).toEqual({ shop: 'shop2' });
    expect(names.collections).toEqual({ shop: { docs: 'docs_v2' }, default: { items: 'items_v2' } });
    expect(new NameTranslator(targetNamesOf([{ sourceDb: 'default', sourceName: 'a', targetDb: 'default', targetName: 'a' }])).empty).toBe(true);
    expect(translator.empty).toBe(false);
  });

  it('rewrites the dbname header and the collection of an insert, the rows copied as they came', () => {
    const request = encode('Insert', { collection_name: 'docs', fields_data: fieldsData, num_rows: 2 });
    const sent = translator.request(fields.get('Insert')?.request, request, header('shop'));
    expect(sent.metadata.get('dbname')).toEqual(['shop2']);
    expect(sent.metadata.get('authorization')).toEqual(['dG9rZW4=']);
    expect(sent.targetDb).toBe('shop2');
    const decoded = decode('Insert', sent.bytes);
    expect(decoded.collection_name).toBe('docs_v2');
    expect(decoded.fields_data).toEqual(decode('Insert', request).fields_data);
    expect(decoded.num_rows).toBe(2);
  });

  it('takes the database from the body when set there, and from the default database without a header', () => {
    const inBody = translator.request(fields.get('Query')?.request, encode('Query', { db_name: 'shop', collection_name: 'docs', expr: 'id > 0' }), header());
    expect(decode('Query', inBody.bytes)).toMatchObject({ db_name: 'shop2', collection_name: 'docs_v2', expr: 'id > 0' });
    expect(inBody.metadata.get('dbname')).toEqual([]);
    const noHeader = translator.request(fields.get('Delete')?.request, encode('Delete', { collection_name: 'items', expr: 'id in [1]' }), header());
    expect(decode('Delete', noHeader.bytes)).toMatchObject({ collection_name: 'items_v2', expr: 'id in [1]' });
    // The same collection name in another database is another collection.
    const elsewhere = encode('Delete', { collection_name: 'items', expr: 'id in [1]' });
    expect(translator.request(fields.get('Delete')?.request, elsewhere, header('shop')).bytes).toBe(elsewhere);
  });

  it('forwards a call naming what the job does not move unchanged: the same bytes and headers', () => {
    const metadata = header();
    const request = encode('Search', { collection_name: 'same', dsl: 'id > 0', nq: 1 });
    const sent = translator.request(fields.get('Search')?.request, request, metadata);
    expect(sent.bytes).toBe(request);
    expect(sent.metadata).toBe(metadata);
  });

  it('rewrites names inside nested messages and repeated fields', () => {
    const hybrid = encode('HybridSearch', {
      collection_name: 'docs',
      requests: [
        { collection_name: 'docs', dsl: 'a' },
        { db_name: 'default', collection_name: 'items', dsl: 'b' },
      ],
    });
    const sent = decode('HybridSearch', translator.request(fields.get('HybridSearch')?.request, hybrid, header('shop')).bytes);
    expect(sent.collection_name).toBe('docs_v2');
    expect(sent.requests.map((r: Record<string, string>) => [r.db_name, r.collection_name, r.dsl])).toEqual([
      ['', 'docs_v2', 'a'],
      ['default', 'items_v2', 'b'],
    ]);
    const flush = decode('Flush', translator.request(fields.get('Flush')?.request, encode('Flush', { collection_names: ['docs', 'keep', 'docs'] }), header('shop')).bytes);
    expect(flush.collection_names).toEqual(['docs_v2', 'keep', 'docs_v2']);
    const rename = decode('RenameCollection', translator.request(fields.get('RenameCollection')?.request, encode('RenameCollection', { oldName: 'items', newName: 'fresh' }), header()).bytes);
    expect(rename).toMatchObject({ oldName: 'items_v2', newName: 'fresh' });
  });

  it('maps replies back to the names the callers know', () => {
    const shown = translator.reply(fields.get('ShowCollections')?.response, encodeReply('ShowCollections', { collection_names: ['docs_v2', 'keep', 'other'] }), 'shop2');
    expect(decodeReply('ShowCollections', shown).collection_names).toEqual(['docs', 'keep', 'other']);
    const described = translator.reply(
      fields.get('DescribeCollection')?.response,
      encodeReply('DescribeCollection', { collection_name: 'docs_v2', db_name: 'shop2', schema: { name: 'docs_v2', fields: [{ name: 'id', data_type: 'Int64', is_primary_key: true }] } }),
      'default',
    );
    expect(decodeReply('DescribeCollection', described)).toMatchObject({ collection_name: 'docs', db_name: 'shop', schema: { name: 'docs', fields: [{ name: 'id', is_primary_key: true }] } });
    const databases = translator.reply(fields.get('ListDatabases')?.response, encodeReply('ListDatabases', { db_names: ['default', 'shop2'] }), 'default');
    expect(decodeReply('ListDatabases', databases).db_names).toEqual(['default', 'shop']);
    const queried = translator.reply(fields.get('Query')?.response, encodeReply('Query', { collection_name: 'items_v2', output_fields: ['id'] }), 'default');
    expect(decodeReply('Query', queried)).toMatchObject({ collection_name: 'items', output_fields: ['id'] });
  });

  it('passes bytes that do not parse as they came', () => {
    const garbage = Buffer.from([0x1a, 0xff, 0xff, 0xff]);
    expect(translator.request(fields.get('Insert')?.request, garbage, header()).bytes).toBe(garbage);
    expect(translator.reply(fields.get('ShowCollections')?.response, garbage, 'default')).toBe(garbage);
  });
});
