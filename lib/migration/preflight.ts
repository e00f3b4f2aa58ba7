import { MigrationError, PermanentError, TransientError } from '../errors';
import { collectionKey, type CollectionProgress, type JobRecord } from '../jobs/model';
import { appendMismatch, collectionExists, countRows, describeCollection, estimateRowBytes, listCollections, listDatabases, TlsCertificateError } from '../milvus';
import type { Services } from '../services';
import { baselineScope } from '../sync/sourceGuard';
import { takeSourceBaseline } from '../sync/guards';
import type { JobInput, PreflightOutput } from '../workflow/steps';
import { mapInOrder } from '../concurrency';
import { loadActiveJob, withClusters, type JobClusters } from './jobContext';
import { targetSpecFor } from './targetSpec';

/** Collections an event or a warning names; the rest are counted (a job may have thousands). */
const LISTED = 20;

/**
 * Checks, before anything is written, that both clusters answer, that every chosen collection
 * exists on the source, that the target can hold each collection (field types, functions... for
 * its version), and what to do with target collections that exist (options.existingTarget:
 * refuse, skip, or append when the schemas agree); then records the collections the job will
 * copy with their row counts. A target database that is missing is fine: CreateTargetCollection
 * creates it.
 */
export async function preflight(services: Services, { jobId }: JobInput): Promise<PreflightOutput> {
  const loaded = await loadActiveJob(services, jobId);
  const job = {
    ...(await services.jobs.update(
      jobId,
      { status: 'IN_PROGRESS', phase: 'PREFLIGHT', startedAt: loaded.startedAt ?? services.now().toISOString() },
      ['PENDING', 'IN_PROGRESS'],
    )),
    collections: loaded.collections,
  };
  const planned = Object.values(job.collections);
  if (planned.length > 0) {
    // A retried Preflight after it recorded the plan: the plan stands.
    return { type: job.type, collections: planned.length, rows: planned.reduce((sum, c) => sum + c.rowsTotal, 0) };
  }

  const { collections, skipped } = await withClusters(services, job, (clusters) => resolveCollections(job, clusters));
  if (skipped.length > 0) {
    // One warning and one event whatever their number: both live in items under DynamoDB's 400 KB.
    const shown = skipped.slice(0, LISTED);
    const names = `${shown.join(', ')}${skipped.length > shown.length ? ` and ${skipped.length - shown.length} more` : ''}`;
    const warning = `${skipped.length} target collection(s) exist already and were left as they are (options.existingTarget: skip): ${names}`;
    if (!job.warnings.includes(warning)) await services.jobs.update(jobId, { addWarnings: [warning] });
    await services.jobs.appendEvent(jobId, { type: 'CollectionsSkipped', message: warning, details: { collections: shown, count: skipped.length } });
  }
  if (job.type === 'online') {
    // Taken before anything is copied: a schema change on the source from now on fails the job (lib/sync/guards.ts).
    const scope = baselineScope({ ...job, collections: Object.fromEntries(collections.map((c) => [c.key, c])) });
    const sourceBaseline = await withClusters(services, job, async ({ source }) => {
      const databases = job.databases.length > 0 ? job.databases.map((d) => d.name) : await listDatabases(source);
      return takeSourceBaseline(source, { ...scope, databases }, services.now());
    });
    await services.jobs.update(jobId, { sourceBaseline });
  }
  await services.jobs.putCollections(jobId, collections);
  const rows = collections.reduce((sum, c) => sum + c.rowsTotal, 0);
  await services.jobs.appendEvent(jobId, {
    type: 'PreflightPassed',
    message: `${collections.length} collection(s), ${rows} row(s) to copy`,
    details: { collections: collections.slice(0, LISTED).map((c) => c.key), count: collections.length, rows },
  });
  return { type: job.type, collections: collections.length, rows };
}

/** What the checks need of a job: its scope and options (a job record, or a request not yet a job). */
export type JobScope = Pick<JobRecord, 'databases' | 'options'>;

/** One thing that stops the migration, with the code the job would fail with. */
export interface PreflightProblem {
  code: string;
  message: string;
}

/** What would happen to one source collection. */
export interface CollectionPlan {
  source: string;
  target: string;
  action: 'create' | 'append' | 'skip';
  rows: number;
  /** rows x a row size estimated from the schema (lib/milvus/batch.ts estimateRowBytes): an upper-side guess. */
  estimatedBytes: number;
  warnings: string[];
}

export interface CollectionsCheck {
  collections: CollectionProgress[];
  /** Target keys (db.collection) left alone under existingTarget 'skip'. */
  skipped: string[];
  plans: CollectionPlan[];
  /** Target databases CreateTargetCollection would create. */
  databasesToCreate: string[];
  problems: PreflightProblem[];
}

/** Collections checked at once: their lists, describes and counts are reads the clusters answer in parallel. */
const COLLECTION_CHECK_CONCURRENCY = 8;

/** What one collection's checks found, kept apart so the results come out in the collections' order. */
interface CollectionOutcome {
  collection?: CollectionProgress;
  plan?: CollectionPlan;
  skipped?: string;
  problems: PreflightProblem[];
  /** In mode 'throw', what the checks threw. */
  error?: unknown;
}

/**
 * The checks of Preflight, shared by the state machine's step (mode 'throw': the first problem
 * fails the job with its code) and POST /migrations/preflight (mode 'collect': every problem is
 * reported). Only reads: lists, describes, counts (a source collection that is not loaded is loaded
 * to be counted, as the copy would). Databases are listed at once and collections checked
 * COLLECTION_CHECK_CONCURRENCY at a time; results, problems and the error thrown are those of
 * checking one after the other, in the same order.
 */
export async function checkCollections(job: JobScope, clusters: JobClusters, mode: 'throw' | 'collect'): Promise<CollectionsCheck> {
  const { source, target } = clusters;
  const out: CollectionsCheck = { collections: [], skipped: [], plans: [], databasesToCreate: [], problems: [] };
  const [sourceDatabases, targetDatabases] = await Promise.all([
    reach('SOURCE_UNREACHABLE', 'source', () => listDatabases(source)),
    reach('TARGET_UNREACHABLE', 'target', () => listDatabases(target)),
  ]);
  // No database named (an online job's default): every database of the source, under its own name.
  const databases = job.databases.length > 0 ? job.databases : sourceDatabases.map((name) => ({ name, targetName: undefined, collections: undefined }));
  // A database's listing that fails fails the checks where the one-by-one order would meet it.
  const available = await mapInOrder(databases, COLLECTION_CHECK_CONCURRENCY, async (database) =>
    sourceDatabases.includes(database.name) ? listCollections(source, database.name).catch((error: unknown) => ({ error })) : null,
  );

  // In order and without a call: what needs no cluster (missing names, collisions); the rest are checks to run.
  type Entry = { problem: PreflightProblem } | { error: unknown } | { check: () => Promise<CollectionOutcome> };
  const entries: Entry[] = [];
  const targetNames = new Set<string>();
  for (const [i, database] of databases.entries()) {
    const targetDb = database.targetName ?? database.name;
    const names = available[i];
    if (!names) {
      entries.push({ problem: { code: 'DATABASE_NOT_FOUND', message: `database ${database.name} does not exist on the source` } });
      continue;
    }
    if (!Array.isArray(names)) {
      entries.push(names);
      break; // nothing after it would have been checked
    }
    const targetDbExists = targetDatabases.includes(targetDb);
    if (!targetDbExists && !out.databasesToCreate.includes(targetDb)) out.databasesToCreate.push(targetDb);
    const chosen = database.collections ?? [...names].sort().map((name) => ({ name, targetName: undefined }));
    for (const { name, targetName = name } of chosen) {
      if (!names.includes(name)) {
        entries.push({ problem: { code: 'COLLECTION_NOT_FOUND', message: `collection ${name} does not exist in database ${database.name} on the source` } });
        continue;
      }
      const targetKey = collectionKey(targetDb, targetName);
      if (targetNames.has(targetKey)) {
        entries.push({ problem: { code: 'TARGET_NAME_COLLISION', message: `two source collections would both be written to ${targetKey} on the target` } });
        continue;
      }
      targetNames.add(targetKey);
      entries.push({ check: () => checkCollection(job, clusters, mode, { sourceDb: database.name, name, targetDb, targetName, targetDbExists }) });
    }
  }

  const outcomes = await mapInOrder(entries, COLLECTION_CHECK_CONCURRENCY, async (entry): Promise<CollectionOutcome> => {
    if ('problem' in entry) return { problems: [entry.problem] };
    if ('error' in entry) return { problems: [], error: entry.error };
    return entry.check();
  });
  for (const outcome of outcomes) {
    // Rethrown as the check threw it (a MigrationError, as a rule).
    if (outcome.error !== undefined) throw outcome.error as Error;
    if (mode === 'throw' && outcome.problems[0]) throw new PermanentError(outcome.problems[0].code, outcome.problems[0].message);
    out.problems.push(...outcome.problems);
    if (outcome.skipped) out.skipped.push(outcome.skipped);
    if (outcome.collection) out.collections.push(outcome.collection);
    if (outcome.plan) out.plans.push(outcome.plan);
  }
  return out;
}

/** One collection's checks: counts, what the target can hold, what exists there already. */
async function checkCollection(
  job: JobScope,
  clusters: JobClusters,
  mode: 'throw' | 'collect',
  names: { sourceDb: string; name: string; targetDb: string; targetName: string; targetDbExists: boolean },
): Promise<CollectionOutcome> {
  const { source, target } = clusters;
  const { sourceDb, name, targetDb, targetName, targetDbExists } = names;
  const targetKey = collectionKey(targetDb, targetName);
  const problem = (code: string, message: string): CollectionOutcome => ({ problems: [{ code, message }] });
  try {
    const planned: CollectionProgress = {
      key: collectionKey(sourceDb, name),
      sourceDb,
      sourceName: name,
      targetDb,
      targetName,
      status: 'PENDING',
      rowsTotal: await countRows(source, sourceDb, name, { readOnly: true }),
      rowsCopied: 0,
      shardCount: 0,
      attempt: 1,
    };
    // What the target would be refused for (a field type or function its version lacks, a bad mapping) fails here, before any write.
    const { sourceSpec, spec, warnings } = await targetSpecFor(job, planned, clusters);
    const plan: CollectionPlan = {
      source: planned.key,
      target: targetKey,
      action: 'create',
      rows: planned.rowsTotal,
      estimatedBytes: planned.rowsTotal * estimateRowBytes(sourceSpec),
      warnings,
    };
    if (targetDbExists && (await collectionExists(target, targetDb, targetName))) {
      const policy = job.options.existingTarget;
      if (policy === 'skip') return { skipped: targetKey, plan: { ...plan, action: 'skip' }, problems: [] };
      if (policy !== 'append') {
        return problem(
          'TARGET_COLLECTION_EXISTS',
          `collection ${targetName} already exists in database ${targetDb} on the target; drop it, choose another target name, or set options.existingTarget to skip or append`,
        );
      }
      const mismatch = appendMismatch(spec, await describeCollection(target, targetDb, targetName));
      if (mismatch) return problem('TARGET_SCHEMA_MISMATCH', `cannot append to ${targetKey} on the target: ${mismatch}`);
      planned.append = true;
      planned.rowsBefore = await countRows(target, targetDb, targetName, { readOnly: true });
      plan.action = 'append';
    }
    return { collection: planned, plan, problems: [] };
  } catch (error) {
    // In collect mode a failure is this collection's problem, and the next collection is checked.
    if (mode === 'throw') return { problems: [], error };
    return problem(...(error instanceof MigrationError ? ([error.code, error.message] as const) : (['INTERNAL', String(error)] as const)));
  }
}

async function resolveCollections(job: JobRecord, clusters: JobClusters): Promise<{ collections: CollectionProgress[]; skipped: string[] }> {
  const { collections, skipped } = await checkCollections(job, clusters, 'throw');
  return { collections, skipped };
}

/** What to do about a certificate the client refused, naming the role's request field and CLI flag. */
function tlsAdvice(role: 'source' | 'target', error: unknown): string | undefined {
  if (!(error instanceof TlsCertificateError)) return undefined;
  const where = `(${error.what}: ${error.detail})`;
  if (error.code === 'MILVUS_TLS_UNTRUSTED') return `the ${role}'s certificate is not trusted: give its CA with ${role}.tls.caCert / --${role}-ca-cert ${where}`;
  if (error.code === 'MILVUS_TLS_NAME_MISMATCH') return `the ${role}'s certificate does not name the host of its uri: connect by a name it holds, or set ${role}.tls.serverName ${where}`;
  return `the ${role}'s certificate was refused ${where}`;
}

/**
 * Names which cluster failed. A transient failure stays transient (the state machine retries it,
 * then fails with this reason); anything else, such as refused credentials, fails at once.
 */
export async function reach<T>(code: string, role: 'source' | 'target', call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const message = `cannot reach the ${role} cluster: ${tlsAdvice(role, error) ?? detail}`;
    if (error instanceof TransientError) throw new TransientError(code, message, { cause: error });
    throw new PermanentError(error instanceof MigrationError ? error.code : code, message, { cause: error });
  }
}
