import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { expect } from 'vitest';
import { TEST_CHANNEL_OPTIONS } from './channelOptions';

export function client(uri: string): MilvusClient {
  return new MilvusClient({ address: uri, telemetry: { enabled: false }, logLevel: 'warn', channelOptions: TEST_CHANNEL_OPTIONS } as never);
}

/**
 * Every row of a collection (at most 16,384: tests stay small), ordered by primary key, with every
 * output field. Pages by offset with no filter, so keys that no filter can hold (line breaks on
 * milvus-lite) are read like any other.
 */
export async function allRows(uri: string, collection: string): Promise<Record<string, unknown>[]> {
  const c = client(uri);
  try {
    const described = await c.describeCollection({ collection_name: collection });
    const pk = described.schema.fields.find((f) => f.is_primary_key)!;
    const count = Number(
      (await c.query({ collection_name: collection, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' } as never)).data[0]?.['count(*)'],
    );
    if (count > 16_384) throw new Error(`allRows reads at most 16,384 rows; ${collection} has ${count}`);
    const rows: Record<string, unknown>[] = [];
    for (let offset = 0; offset < count; offset += 500) {
      const page = await c.query({ collection_name: collection, filter: '', output_fields: ['*'], offset, limit: Math.min(500, 16_384 - offset), consistency_level: 'Strong' } as never);
      rows.push(...(page.data as Record<string, unknown>[]));
    }
    expect(rows.length).toBe(count);
    return rows.sort((a, b) => comparePk(a[pk.name], b[pk.name]));
  } finally {
    await c.closeConnection();
  }
}

function comparePk(a: unknown, b: unknown): number {
  if (typeof a === 'string' && /^-?\d+$/.test(a) && typeof b === 'string' && /^-?\d+$/.test(b)) {
    const d = BigInt(a) - BigInt(b);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
}

/** Asserts that two collections hold the same rows, field by field. */
export async function expectSameRows(sourceUri: string, sourceCollection: string, targetUri: string, targetCollection: string) {
  const [source, target] = await Promise.all([allRows(sourceUri, sourceCollection), allRows(targetUri, targetCollection)]);
  expect(target.length).toBe(source.length);
  for (let i = 0; i < source.length; i++) expect(target[i]).toEqual(source[i]);
  return source.length;
}

/** Drops every collection whose name starts with `prefix` on each cluster: the cleanup of a test file. */
export async function dropCollectionsWithPrefix(prefix: string, ...uris: string[]): Promise<void> {
  for (const uri of uris) {
    const c = client(uri);
    const { data } = await c.listCollections();
    for (const { name } of data) if (name.startsWith(prefix)) await c.dropCollection({ collection_name: name });
    await c.closeConnection();
  }
}
