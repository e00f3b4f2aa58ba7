import { errors, ok } from './status';
import { type ImportJob, collectionOf, dbOf } from './state';
import { hasPartitionKey } from './partitions';
import type { Handlers } from './handlers';

/**
 * Bulk import through MilvusService (the SDK's bulkInsert, listImportTasks, getImportState):
 * Import, ListImportTasks, GetImportState. Jobs are recorded with their collection and stay
 * ImportPending: the fake reads no files and loads no rows. ListImportTasks answers the jobs of
 * the database in the request (or its `dbname` header), of one collection when named.
 */
function taskOf(job: ImportJob) {
  return {
    status: ok(),
    state: job.state,
    row_count: '0',
    id_list: [],
    infos: [
      { key: 'collection', value: job.collectionName },
      { key: 'partition', value: job.partitionName },
      { key: 'files', value: job.files.join(',') },
      { key: 'failed_reason', value: '' },
    ],
    id: job.id,
    collection_id: job.collectionId,
    segment_ids: [],
    create_ts: String(Math.floor(job.createdAt / 1000)),
  };
}

export const importHandlers: Handlers = {
  Import(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    const coll = collectionOf(ctx, req);
    const files: string[] = req.files ?? [];
    if (files.length === 0) throw errors.invalid('import request is empty');
    const partition: string = req.partition_name ?? '';
    if (partition) {
      if (hasPartitionKey(coll)) throw errors.invalid('not allow to set partition name for collection with partition key');
      if (!coll.partitions.has(partition)) throw errors.partitionNotFound(partition);
    }
    const job: ImportJob = {
      id: ctx.state.nextId(),
      dbName: db.name,
      collectionId: coll.id,
      collectionName: coll.name,
      partitionName: partition,
      files,
      state: 'ImportPending',
      createdAt: Date.now(),
    };
    ctx.state.imports.push(job);
    return { status: ok(), tasks: [job.id] };
  },
  GetImportState(req, ctx) {
    const job = ctx.state.imports.find((j) => j.id === String(req.task));
    if (!job) throw errors.unexpected(`import job not found[jobID=${req.task}]`);
    return taskOf(job);
  },
  ListImportTasks(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    let jobs = ctx.state.imports.filter((j) => j.dbName === db.name);
    if (req.collection_name) {
      const coll = collectionOf(ctx, req);
      jobs = jobs.filter((j) => j.collectionId === coll.id);
    }
    const limit = Number(req.limit ?? 0);
    if (limit > 0) jobs = jobs.slice(-limit);
    return { status: ok(), tasks: jobs.map(taskOf) };
  },
};
