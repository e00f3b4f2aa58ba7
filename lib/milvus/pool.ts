import { createHash } from 'node:crypto';
import type { ClusterCredentials } from '../cluster';
import { openCluster, type MilvusCluster } from './cluster';

/**
 * Reuses cluster connections across steps. A new SDK client costs about 165 ms of CPU (proto
 * loading, connect: measured on this project's machine), which dominated short copy steps; in
 * Lambda a warm container keeps its pool between invocations, as the local runtime keeps it for
 * its life. Pooled clusters ignore close(); closeAll() ends them.
 */
export class ClusterPool {
  private readonly clusters = new Map<string, MilvusCluster>();

  open(credentials: ClusterCredentials): MilvusCluster {
    // Keyed by a digest, so the pool holds no second copy of the credentials in its keys.
    const key = createHash('sha256').update(JSON.stringify([credentials.uri, credentials.token, credentials.username, credentials.password, credentials.tls?.caCert, credentials.tls?.serverName])).digest('hex');
    let cluster = this.clusters.get(key);
    if (!cluster) {
      cluster = openCluster(credentials);
      this.clusters.set(key, cluster);
    }
    const shared = cluster;
    return { uri: shared.uri, client: (db) => shared.client(db), close: async () => undefined };
  }

  async closeAll(): Promise<void> {
    const all = [...this.clusters.values()];
    this.clusters.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}
