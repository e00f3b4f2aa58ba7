import { redactUri, redactUrisIn, type ClusterCredentials } from '../cluster';
import { MigrationError } from '../errors';
import { listDatabases, targetCapabilities, type MilvusGateway } from '../milvus';
import { estimateMigration, type MigrationEstimate } from './estimate';
import { checkCollections, reach, type CollectionPlan, type JobScope, type PreflightProblem } from './preflight';

/** What POST /migrations/preflight answers: everything Preflight would check, reported, nothing written. */
export interface PreflightReport {
  /** True when a job with this request would pass Preflight now. */
  ok: boolean;
  source: ClusterReport;
  target: ClusterReport & { databasesToCreate: string[] };
  collections: CollectionPlan[];
  /** Everything that would fail the job, each with the code the job would fail with. */
  problems: PreflightProblem[];
  /** Absent when a cluster cannot be reached. */
  estimate?: MigrationEstimate;
}

interface ClusterReport {
  uri: string;
  reachable: boolean;
  /** Why not, when not reachable (credentials refused, no answer...). */
  reason?: string;
  version?: string;
}

/** Milvus calls of a preflight request: short enough for the API's 29 s limit. */
export const PREFLIGHT_TIMEOUT_MS = 8_000;

/**
 * Runs Preflight's checks for a request that is not a job (yet): reachability with the given
 * credentials, the collections with rows and estimated bytes, what the target cannot hold, name
 * collisions and existing target collections, and an estimate of duration and cost. Only reads.
 */
export async function inspectMigration(
  scope: JobScope,
  credentials: { source: ClusterCredentials; target: ClusterCredentials },
  open: (credentials: ClusterCredentials) => MilvusGateway,
): Promise<PreflightReport> {
  const source = open(credentials.source);
  const target = open(credentials.target);
  try {
    const [sourceReport, targetReport] = await Promise.all([probe('source', source, credentials.source), probe('target', target, credentials.target)]);
    const report: PreflightReport = {
      ok: false,
      source: sourceReport,
      target: { ...targetReport, databasesToCreate: [] },
      collections: [],
      problems: [],
    };
    // The reason already says "cannot reach the <role> cluster" after its code: not twice.
    const unreachable = (role: string, reason?: string) => `cannot reach the ${role} cluster: ${(reason ?? '').replace(`: cannot reach the ${role} cluster: `, ': ')}`;
    if (!sourceReport.reachable) report.problems.push({ code: 'SOURCE_UNREACHABLE', message: unreachable('source', sourceReport.reason) });
    if (!targetReport.reachable) report.problems.push({ code: 'TARGET_UNREACHABLE', message: unreachable('target', targetReport.reason) });
    if (report.problems.length > 0) return report;

    const checked = await checkCollections(scope, { source, target }, 'collect');
    report.collections = checked.plans;
    report.problems = checked.problems.map((p) => ({ ...p, message: redactUrisIn(p.message) }));
    report.target.databasesToCreate = checked.databasesToCreate;
    report.estimate = estimateMigration(checked.plans, scope.options);
    report.ok = report.problems.length === 0;
    return report;
  } finally {
    await Promise.allSettled([source.close(), target.close()]);
  }
}

async function probe(role: 'source' | 'target', cluster: MilvusGateway, credentials: ClusterCredentials): Promise<ClusterReport> {
  const uri = redactUri(credentials.uri);
  try {
    await reach(role === 'source' ? 'SOURCE_UNREACHABLE' : 'TARGET_UNREACHABLE', role, () => listDatabases(cluster));
    const { version } = await targetCapabilities(cluster);
    return { uri, reachable: true, ...(version ? { version } : {}) };
  } catch (error) {
    const reason = error instanceof MigrationError ? `${error.code}: ${error.message}` : String(error);
    return { uri, reachable: false, reason: redactUrisIn(reason) };
  }
}
