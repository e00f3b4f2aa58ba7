import { describe, expect, it } from 'vitest';
import { hashRequest, timeSortableId, toJobView } from '../../lib/api/service';
import { JOB_SCHEMA_VERSION, JobOptions, type CollectionProgress, type JobRecord } from '../../lib/jobs/model';
import { summarizeCollections } from '../../lib/jobs/progress';

const job: JobRecord = {
  schemaVersion: JOB_SCHEMA_VERSION,
  jobId: 'mig-1',
  type: 'offline',
  status: 'IN_PROGRESS',
  phase: 'FULL_COPY',
  source: { uri: 'http://user:pw@source:19530', credentialsRef: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:milvus-migrate/mig-1/source-AbCdEf' },
  target: { uri: 'http://target:19530', credentialsRef: 'local:mig-1:target' },
  databases: [{ name: 'default' }],
  options: JobOptions.parse({}),
  warnings: ['w'],
  executionArn: 'arn:aws:states:us-east-1:123456789012:execution:m:mig-1',
  createdAt: '2030-01-01T00:00:00.000Z',
  updatedAt: '2030-01-01T00:00:01.000Z',
  startedAt: '2030-01-01T00:00:00.500Z',
  version: 3,
};

const collections: CollectionProgress[] = [
  { key: 'default.b', sourceDb: 'default', sourceName: 'b', targetDb: 'default', targetName: 'b2', status: 'COPYING', rowsTotal: 3, rowsCopied: 1, shardCount: 1, attempt: 1 },
  { key: 'default.a', sourceDb: 'default', sourceName: 'a', targetDb: 'default', targetName: 'a', status: 'COPIED', rowsTotal: 0, rowsCopied: 0, shardCount: 0, attempt: 1 },
];

describe('toJobView', () => {
  it('shows what the collections add up to and the uris, and nothing of the credentials or the execution', () => {
    const view = toJobView(job, summarizeCollections(collections));
    expect(view).toEqual({
      jobId: 'mig-1',
      type: 'offline',
      status: 'IN_PROGRESS',
      phase: 'FULL_COPY',
      options: job.options,
      // Derived from the rows copied (1 of 3).
      progressPercent: 33,
      source: { uri: 'http://source:19530' },
      target: { uri: 'http://target:19530' },
      collectionSummary: {
        total: 2,
        byStatus: { PENDING: 0, CREATED: 0, COPYING: 1, COPIED: 1, INDEXED: 0, VERIFIED: 0, RECOPY: 0, FAILED: 0 },
        rowsTotal: 3,
        rowsCopied: 1,
      },
      warnings: ['w'],
      createdAt: '2030-01-01T00:00:00.000Z',
      updatedAt: '2030-01-01T00:00:01.000Z',
      startedAt: '2030-01-01T00:00:00.500Z',
    });
    const text = JSON.stringify(view);
    expect(text).not.toContain('secretsmanager');
    expect(text).not.toContain('local:mig-1');
  });
});

describe('timeSortableId', () => {
  it('sorts by creation time and has 26 lower-case characters', () => {
    const earlier = timeSortableId(new Date('2030-01-01T00:00:00.000Z'));
    const later = timeSortableId(new Date('2030-01-01T00:00:00.001Z'));
    expect(earlier).toMatch(/^[0-9a-z]{26}$/);
    expect(earlier < later).toBe(true);
    expect(timeSortableId(new Date(0))).not.toBe(timeSortableId(new Date(0)));
  });
});

describe('hashRequest', () => {
  const body = (token: string, collection: string) => ({
    type: 'offline',
    source: { uri: 'a:19530', token },
    target: { uri: 'b:19530', username: 'u', password: token },
    databases: [{ name: 'default', collections: [{ name: collection }] }],
  });

  it('leaves secrets out, so the stored hash cannot be used to test guesses of a password', () => {
    expect(hashRequest(body('secret-one', 'books'))).toBe(hashRequest(body('secret-two', 'books')));
  });

  it('tells apart requests that differ in anything else', () => {
    expect(hashRequest(body('s', 'books'))).not.toBe(hashRequest(body('s', 'films')));
  });
});
