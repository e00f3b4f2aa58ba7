/**
 * Runs `work` over the items with at most `limit` at once; results in the items' order. For the
 * steps that act on every collection of a job (plan, verify): each collection is a few round trips
 * to the clusters, so one after the other a job of hundreds of collections spends minutes waiting.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}
