import { PermanentError } from '../errors';
import type { MilvusCluster } from '../milvus';

/**
 * Milvus serves queries only from loaded collections. A source collection that is not loaded is
 * loaded (a read-side change that leaves its data and schema alone); one that cannot be loaded
 * (no index on a vector field) is refused, because creating an index would change the source.
 */
export async function ensureSourceLoaded(cluster: MilvusCluster, db: string, collection: string): Promise<{ loadedByUs: boolean }> {
  const client = cluster.client(db);
  const state = await client.getLoadState({ collection_name: collection });
  if (state.state === 'LoadStateLoaded') return { loadedByUs: false };
  const status = await client.loadCollection({ collection_name: collection });
  if (status.error_code !== 'Success' || (status.code ?? 0) !== 0) {
    throw new PermanentError(
      'SOURCE_NOT_LOADABLE',
      `source collection ${db}.${collection} is not loaded and cannot be loaded (${status.reason || status.error_code}); ` +
        'create an index on its vector fields or load it, then retry',
    );
  }
  for (let waited = 0; waited < 300_000; waited += 500) {
    const { state: now } = await client.getLoadState({ collection_name: collection });
    if (now === 'LoadStateLoaded') return { loadedByUs: true };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new PermanentError('SOURCE_NOT_LOADABLE', `source collection ${db}.${collection} did not finish loading within 5 minutes`);
}
