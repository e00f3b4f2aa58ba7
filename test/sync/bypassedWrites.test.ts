import { describe, expect, it } from 'vitest';
import type { LoggedChange } from '../../lib/capture/changes';
import type { JobWithCollections } from '../../lib/jobs/model';
import { DifferingKeys, LoggedKeys } from '../../lib/sync/bypassedWrites';

const job = {
  collections: {
    'default.docs': { key: 'default.docs', sourceDb: 'default', sourceName: 'docs' },
    'default.auto': { key: 'default.auto', sourceDb: 'default', sourceName: 'auto' },
  },
} as unknown as JobWithCollections;

let n = 0;
const entry = (collection: string, change: Partial<LoggedChange>): LoggedChange => ({ id: `000000000000${n++}-x-0`, at: 0, db: 'default', collection, kind: 'upsert-keys', ackKeys: [], ...change });

describe('differences the change log does not explain', () => {
  it('are the keys no logged write names; a logged write without keys excuses its collection', () => {
    const differing = new DifferingKeys();
    for (const k of ['1', '2', '3']) differing.onDifference('default.docs', k);
    for (const k of ['7', '8']) differing.onDifference('default.auto', k);
    const logged = [entry('docs', { keys: ['1'] }), entry('docs', { kind: 'delete-keys', keys: ['3'] }), entry('auto', { kind: 'autoid-pending' }), entry('unmoved', { keys: ['2'] })];
    const found = differing.unexplainedKeys(job, logged);
    expect([...found.keys]).toEqual([['default.docs', new Set(['2'])]]);
    expect(found).toMatchObject({ count: 1, excused: 2, untracked: 0 });
    expect(differing.unexplained(job, logged)).toBe('1 row(s) differed that no capture endpoint logged, e.g. default.docs:2');
    // Once the autoID insert's reply names its keys, they explain only themselves.
    const acked = differing.unexplainedKeys(job, [...logged.slice(0, 2), entry('auto', { kind: 'autoid-pending', ackKeys: ['7'] })]);
    expect([...acked.keys].map(([c, keys]) => [c, [...keys]])).toEqual([
      ['default.docs', ['2']],
      ['default.auto', ['8']],
    ]);
    expect(differing.unexplained(job, [entry('docs', { keys: ['1', '2', '3'] }), entry('auto', { kind: 'delete-filter', filter: 'n > 1' })])).toBeUndefined();
  });

  it('are judged against keys gathered cycle by cycle, where the entries a comparison appended itself explain nothing', () => {
    const differing = new DifferingKeys();
    for (const k of ['1', '2']) differing.onDifference('default.docs', k);
    const logged = new LoggedKeys(job);
    logged.add([entry('docs', { keys: ['1'] })]);
    // The comparison's own entry for key 2 (a difference it found, handed to the log): not an endpoint's write.
    logged.add([entry('docs', { keys: ['2'], found: true })]);
    expect(differing.unexplained(job, logged)).toBe('1 row(s) differed that no capture endpoint logged, e.g. default.docs:2');
    // A later cycle reads an endpoint's write of key 2.
    logged.add([entry('docs', { keys: ['2'] })]);
    expect(differing.unexplained(job, logged)).toBeUndefined();
  });
});
