import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { expect } from 'vitest';

/** C-style escaping for a VarChar literal in a Milvus filter. */
export const quote = (value: string) =>
  `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;

export function client(uri: string): MilvusClient {
  return new MilvusClient({ address: uri, telemetry: { enabled: false } } as never);
}

/** Every row of a collection, ordered by primary key, with every output field. */
export async function allRows(uri: string, collection: string): Promise<Record<string, unknown>[]> {
  const c = client(uri);
  try {
    const described = await c.describeCollection({ collection_name: collection });
    const pk = described.schema.fields.find((f) => f.is_primary_key)!;
    const isString = pk.data_type === 'VarChar';
    const rows: Record<string, unknown>[] = [];
    let cursor: string | undefined;
    for (;;) {
      const filter = cursor === undefined ? (isString ? `${pk.name} >= ""` : `${pk.name} >= -9223372036854775808`) : `${pk.name} > ${isString ? quote(cursor) : cursor}`;
      const page = await c.query({ collection_name: collection, filter, output_fields: ['*'], limit: 500, consistency_level: 'Strong' } as never);
      const data = page.data as Record<string, unknown>[];
      if (!data || data.length === 0) break;
      rows.push(...data);
      cursor = String(data[data.length - 1]![pk.name]);
      if (data.length < 500) break;
    }
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
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Asserts that two collections hold the same rows, field by field. */
export async function expectSameRows(sourceUri: string, sourceCollection: string, targetUri: string, targetCollection: string) {
  const [source, target] = await Promise.all([allRows(sourceUri, sourceCollection), allRows(targetUri, targetCollection)]);
  expect(target.length).toBe(source.length);
  for (let i = 0; i < source.length; i++) expect(target[i]).toEqual(source[i]);
  return source.length;
}
