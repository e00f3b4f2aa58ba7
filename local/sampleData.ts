import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';

/**
 * Sample collections of different shapes for the demo and the end-to-end tests: Int64 and
 * VarChar primary keys (with quotes, backslashes, newlines and characters outside the Basic
 * Multilingual Plane), autoID, nested JSON, arrays, dynamic fields, default values, sparse and
 * 768-d dense vectors, and an empty collection. Deterministic for a given seed.
 */
export interface SampleSizes {
  products: number;
  articles: number;
  clicks: number;
}

const DEFAULT_SAMPLE_SIZES: SampleSizes = { products: 3_000, articles: 1_200, clicks: 2_000 };

const SAMPLE_COLLECTIONS = ['products', 'articles', 'clicks', 'empty_archive'] as const;

/** A small PRNG (mulberry32): the same seed gives the same data on every machine. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const AWKWARD_STRINGS = ['plain', 'say "hi"', 'back\\slash', 'new\nline', 'tab\there', 'emoji 🚀 𝄞', "it's", 'ünïcödé'];

function check(status: { error_code?: string | number; code?: number; reason?: string }, what: string): void {
  if ((status.error_code !== undefined && status.error_code !== 'Success') || (status.code ?? 0) !== 0) {
    throw new Error(`${what} failed: ${status.reason ?? JSON.stringify(status)}`);
  }
}

async function insertInBatches(client: MilvusClient, collection: string, rows: Record<string, unknown>[], batch = 500): Promise<void> {
  for (let i = 0; i < rows.length; i += batch) {
    const result = await client.insert({ collection_name: collection, data: rows.slice(i, i + batch) as never });
    check(result.status, `insert into ${collection}`);
  }
}

async function indexAndLoad(client: MilvusClient, collection: string, indexes: Array<{ field: string; metric: string; type?: string }>) {
  for (const { field, metric, type = 'AUTOINDEX' } of indexes) {
    check(await client.createIndex({ collection_name: collection, field_name: field, index_type: type, metric_type: metric }), `index ${collection}.${field}`);
  }
  check(await client.loadCollection({ collection_name: collection }), `load ${collection}`);
}

/** Creates and fills the sample collections on the cluster at `uri`, with names prefixed by `prefix`. */
export async function seedSampleCollections(
  uri: string,
  /** avoidQuoteKeys: no primary key holds a single quote (milvus-lite cannot delete such keys). */
  options: { prefix?: string; sizes?: SampleSizes; seed?: number; token?: string; avoidQuoteKeys?: boolean } = {},
): Promise<string[]> {
  const { prefix = '', sizes = DEFAULT_SAMPLE_SIZES, seed = 42 } = options;
  const rand = random(seed);
  const keyText = (text: string) => (options.avoidQuoteKeys ? text.replaceAll("'", '') : text);
  const client = new MilvusClient({ address: uri, token: options.token, telemetry: { enabled: false }, logLevel: 'warn' } as never);
  const names = SAMPLE_COLLECTIONS.map((n) => `${prefix}${n}`);
  const [products, articles, clicks, empty] = names as [string, string, string, string];
  try {
    // Int64 primary keys, 768-d vectors, JSON, arrays, a default value and a dynamic field.
    check(
      await client.createCollection({
        collection_name: products,
        description: 'catalogue items with 768-d embeddings',
        enable_dynamic_field: true,
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
          { name: 'embedding', data_type: DataType.FloatVector, dim: 768 },
          { name: 'title', data_type: DataType.VarChar, max_length: 256 },
          { name: 'price', data_type: DataType.Double },
          { name: 'stock', data_type: DataType.Int32, default_value: 7 },
          { name: 'attributes', data_type: DataType.JSON },
          { name: 'tags', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 8, max_length: 32 },
        ],
      } as never),
      `create ${products}`,
    );
    const productRows = Array.from({ length: sizes.products }, (_, i) => ({
      // Spread over a wide range, including values beyond 2^53 (kept exact as strings).
      id: i % 97 === 0 ? (9_007_199_254_740_993n + BigInt(i)).toString() : i * 13 + 1,
      embedding: Array.from({ length: 768 }, () => rand() * 2 - 1),
      title: `${AWKWARD_STRINGS[i % AWKWARD_STRINGS.length]} #${i}`,
      price: Math.round(rand() * 100_000) / 100,
      stock: i % 5,
      attributes: { color: ['red', 'green', 'blue'][i % 3], size: { w: i % 11, h: i % 7 }, tags: [i % 2 === 0, null, 'x'] },
      tags: Array.from({ length: i % 4 }, (_, k) => `t${(i + k) % 10}`),
      ...(i % 3 === 0 ? { note: `dynamic ${i}`, nested: { depth: { level: i % 4 } } } : {}),
    }));
    await insertInBatches(client, products, productRows, 200);
    await indexAndLoad(client, products, [{ field: 'embedding', metric: 'COSINE' }]);

    // VarChar primary keys with characters that break naive filters, sparse plus dense vectors.
    check(
      await client.createCollection({
        collection_name: articles,
        description: 'hybrid search corpus',
        enable_dynamic_field: false,
        fields: [
          { name: 'doc_id', data_type: DataType.VarChar, is_primary_key: true, max_length: 128 },
          { name: 'dense', data_type: DataType.FloatVector, dim: 64 },
          { name: 'sparse', data_type: DataType.SparseFloatVector },
          { name: 'body', data_type: DataType.VarChar, max_length: 2048 },
          { name: 'lang', data_type: DataType.VarChar, max_length: 8, default_value: 'en' },
          { name: 'scores', data_type: DataType.Array, element_type: DataType.Float, max_capacity: 4 },
        ],
      } as never),
      `create ${articles}`,
    );
    const articleRows = Array.from({ length: sizes.articles }, (_, i) => ({
      doc_id: `${keyText(AWKWARD_STRINGS[i % AWKWARD_STRINGS.length]!)}-${String(i).padStart(5, '0')}`,
      dense: Array.from({ length: 64 }, () => rand()),
      sparse: Object.fromEntries(Array.from({ length: 1 + (i % 5) }, (_, k) => [String((i * 31 + k * 977) % 30_000), 0.25 + rand()])),
      body: `Article ${i}: ${AWKWARD_STRINGS[(i + 3) % AWKWARD_STRINGS.length]}`.repeat(1 + (i % 3)),
      lang: ['en', 'de', 'ja'][i % 3],
      scores: Array.from({ length: i % 5 }, () => Math.round(rand() * 100) / 10),
    }));
    await insertInBatches(client, articles, articleRows, 300);
    await indexAndLoad(client, articles, [
      { field: 'dense', metric: 'L2' },
      { field: 'sparse', metric: 'IP', type: 'SPARSE_INVERTED_INDEX' },
    ]);

    // An autoID collection: the target keeps the source's keys.
    check(
      await client.createCollection({
        collection_name: clicks,
        description: 'click stream',
        fields: [
          { name: 'click_id', data_type: DataType.Int64, is_primary_key: true, autoID: true },
          { name: 'vector', data_type: DataType.FloatVector, dim: 16 },
          { name: 'user', data_type: DataType.VarChar, max_length: 64 },
          { name: 'flags', data_type: DataType.Bool },
          { name: 'weight', data_type: DataType.Float },
        ],
      } as never),
      `create ${clicks}`,
    );
    const clickRows = Array.from({ length: sizes.clicks }, (_, i) => ({
      vector: Array.from({ length: 16 }, () => rand()),
      user: `user-${i % 50}`,
      flags: i % 2 === 0,
      weight: Math.fround(rand()),
    }));
    await insertInBatches(client, clicks, clickRows, 500);
    await indexAndLoad(client, clicks, [{ field: 'vector', metric: 'IP' }]);

    // Empty collections migrate too.
    check(
      await client.createCollection({
        collection_name: empty,
        fields: [
          { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 36 },
          { name: 'v', data_type: DataType.FloatVector, dim: 8 },
        ],
      } as never),
      `create ${empty}`,
    );
    await indexAndLoad(client, empty, [{ field: 'v', metric: 'L2' }]);
    for (const name of names) await client.flush({ collection_names: [name] });
    return names;
  } finally {
    await client.closeConnection();
  }
}
