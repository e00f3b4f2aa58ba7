import { describe, expect, it } from 'vitest';
import { matchesPattern, UnsupportedPatternError } from '../../local/aws/eventPattern';

const event = {
  source: 'milvus-migrate',
  'detail-type': 'Migration Job Failed',
  resources: ['arn:a', 'arn:b'],
  detail: { jobId: 'job-42', lag: 12.5, state: { code: 'FAILED', retries: 0 }, tags: ['x', 'y'], empty: null, ok: false },
};

describe('EventBridge content matching', () => {
  it.each([
    [{ source: ['milvus-migrate'] }, true],
    [{ source: ['other'] }, false],
    [{ resources: ['arn:b'] }, true],
    [{ detail: { state: { code: ['FAILED'] } } }, true],
    [{ detail: { state: { code: ['OK'] } } }, false],
    [{ detail: { jobId: [{ prefix: 'job-' }] } }, true],
    [{ detail: { jobId: [{ prefix: { 'equals-ignore-case': 'JOB-' } }] } }, true],
    [{ detail: { jobId: [{ suffix: '43' }] } }, false],
    [{ 'detail-type': [{ 'equals-ignore-case': 'migration job failed' }] }, true],
    [{ 'detail-type': [{ wildcard: 'Migration * Failed' }] }, true],
    [{ detail: { jobId: [{ 'anything-but': ['job-42'] }] } }, false],
    [{ detail: { jobId: [{ 'anything-but': { prefix: 'x' } }] } }, true],
    [{ detail: { missing: [{ 'anything-but': 'a' }] } }, false],
    [{ detail: { missing: [{ exists: false }] } }, true],
    [{ detail: { jobId: [{ exists: false }] } }, false],
    [{ detail: { lag: [{ numeric: ['>', 10, '<=', 12.5] }] } }, true],
    [{ detail: { lag: [{ numeric: ['<', 10] }] } }, false],
    [{ detail: { state: { retries: [0] } } }, true],
    [{ detail: { empty: [null], ok: [false] } }, true],
    [{ detail: { tags: ['y'] } }, true],
    [{ $or: [{ source: ['nope'] }, { detail: { tags: ['x'] } }] }, true],
    [{ source: ['milvus-migrate'], 'detail-type': ['Migration Job Succeeded'] }, false],
  ])('%j -> %s', (pattern, expected) => {
    expect(matchesPattern(pattern, event)).toBe(expected);
  });

  it('refuses what it does not match rather than guessing', () => {
    expect(() => matchesPattern({ detail: { ip: [{ cidr: '10.0.0.0/24' }] } }, { detail: { ip: '10.0.0.1' } })).toThrow(UnsupportedPatternError);
    expect(() => matchesPattern({ source: [{ 'begins-with': 'x' }] }, event)).toThrow(/unknown content filter/);
  });
});
