import { createHash } from 'node:crypto';
import type { ClusterCredentials } from '../cluster';
import { openCluster, type MilvusGateway } from './gateway';

/**
 * Reuses cluster connections across steps. A new SDK client costs about 165 ms of CPU (proto
 * loading, connect: measured on this project's machine), which dominated short copy steps; in
 * Lambda a warm container keeps its pool between invocations, as the local runtime keeps it for
 * its life. Pooled clusters ignore close(); closeAll() ends them.
 */
/** How long a gateway replaced for being unreachable stays open for the steps that still hold it. */
const STALE_END_DELAY_MS = 60_000;

export class ClusterPool {
  private readonly clusters = new Map<string, MilvusGateway>();

  open(credentials: ClusterCredentials): MilvusGateway {
    // Keyed by a digest, so the pool holds no second copy of the credentials in its keys.
    const key = createHash('sha256').update(JSON.stringify([credentials.uri, credentials.token, credentials.username, credentials.password, credentials.tls?.caCert, credentials.tls?.serverName])).digest('hex');
    let cluster = this.clusters.get(key);
    if (cluster?.unreachable) {
      // Steps still holding it finish with it; its connections are ended once they had the time to.
      const stale = cluster;
      setTimeout(() => void stale.end(), STALE_END_DELAY_MS).unref();
      cluster = undefined;
    }
    if (!cluster) {
      cluster = openCluster(credentials, { pooled: true });
      this.clusters.set(key, cluster);
    }
    return cluster;
  }

  async closeAll(): Promise<void> {
    const all = [...this.clusters.values()];
    this.clusters.clear();
    await Promise.all(all.map((c) => c.end()));
  }
}
