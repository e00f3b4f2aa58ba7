import { afterEach, describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../lib/errors';
import { call as milvusCall, checkedCall, idempotentWrite, onceOnly, read, setCallRetryPolicy } from '../../lib/milvus/gateway/calls';
import { statusToError } from '../../lib/milvus/status';

const grpcError = (code: number, details = 'injected') => Object.assign(new Error(details), { code, details });
const ok = { error_code: 'Success', code: 0 };

function flaky<T>(failures: unknown[], reply: T) {
  let calls = 0;
  const fn = async () => {
    calls += 1;
    const next = failures.shift();
    if (next instanceof Error) throw next;
    if (next !== undefined) return next as T;
    return reply;
  };
  return { fn, calls: () => calls };
}

afterEach(() => setCallRetryPolicy());

describe('bounded retry of single Milvus calls', () => {
  it('retries idempotent calls on UNAVAILABLE, DEADLINE_EXCEEDED and transient statuses, with growing backoff', async () => {
    const waits: number[] = [];
    setCallRetryPolicy({ attempts: 5, baseMs: 10, maxMs: 1_000, sleep: async (ms) => void waits.push(ms) });
    const call = flaky([grpcError(14), grpcError(4), { status: { error_code: 'RateLimit', code: 8, reason: 'rate limit exceeded' } }], { status: ok, value: 42 });
    const reply = await checkedCall(read('describe default.books'), call.fn);
    expect(reply.value).toBe(42);
    expect(call.calls()).toBe(4);
    expect(waits).toHaveLength(3);
    expect(waits[2]!).toBeGreaterThanOrEqual(20); // third backoff: ceiling 40, at least half of it
  });

  it('retries an idempotent call whose reply the SDK could not read, and keeps the error permanent if it persists', async () => {
    setCallRetryPolicy({ attempts: 3, baseMs: 1, maxMs: 1, sleep: async () => undefined });
    const recovered = flaky([new TypeError("Cannot read properties of null (reading 'fields')")], { status: ok, value: 7 });
    expect((await checkedCall(idempotentWrite('clear default.books past the checkpoint'), recovered.fn)).value).toBe(7);
    expect(recovered.calls()).toBe(2);

    const broken = flaky([new TypeError('x'), new TypeError('x'), new TypeError('x')], ok);
    await expect(milvusCall(read('describe default.books'), broken.fn)).rejects.toMatchObject({ name: 'PermanentError', code: 'MILVUS_CLIENT_ERROR' });
    expect(broken.calls()).toBe(3);

    const write = flaky([new TypeError('x')], ok);
    await expect(milvusCall(onceOnly('write 10 rows to books', true), write.fn)).rejects.toMatchObject({ code: 'MILVUS_CLIENT_ERROR' });
    expect(write.calls()).toBe(1);
  });

  it('reads a status whose reason is a transport failure as transient', () => {
    expect(statusToError({ error_code: 'UnexpectedError', code: 65535, reason: '14 UNAVAILABLE: Connection dropped' }, 'describe x')).toBeInstanceOf(TransientError);
    expect(statusToError({ error_code: 'UnexpectedError', code: 65535, reason: 'field type not supported' }, 'describe x')).toBeInstanceOf(PermanentError);
  });

  it('gives up after the bounded number of tries with the transient error', async () => {
    setCallRetryPolicy({ attempts: 3, baseMs: 1, maxMs: 1, sleep: async () => undefined });
    const call = flaky([grpcError(14), grpcError(14), grpcError(14), grpcError(14)], ok);
    await expect(milvusCall(read('count default.books'), call.fn)).rejects.toMatchObject({ name: 'TransientError', code: 'MILVUS_UNAVAILABLE' });
    expect(call.calls()).toBe(3);
  });

  it('never retries calls that are not idempotent (inserts, creates), nor permanent failures', async () => {
    setCallRetryPolicy({ attempts: 5, baseMs: 1, maxMs: 1, sleep: async () => undefined });
    for (const what of ['write 10 rows to books', 'create default.books', 'create index on default.books.v']) {
      const call = flaky([grpcError(14)], ok);
      await expect(milvusCall(onceOnly(what), call.fn)).rejects.toBeInstanceOf(TransientError);
      expect(call.calls()).toBe(1);
    }
    for (const failure of [grpcError(16, 'auth check failure'), { status: { error_code: 'UnexpectedError', code: 100, reason: 'collection not found[collection=x]' } }]) {
      const call = flaky([failure], { status: ok });
      await expect(checkedCall(read('describe default.x'), call.fn)).rejects.toBeInstanceOf(PermanentError);
      expect(call.calls()).toBe(1);
    }
    // The copy's own reads leave rate limits to its RateLimitBackoff (it halves batches on RESOURCE_EXHAUSTED).
    const readCall = flaky([grpcError(8)], ok);
    await expect(milvusCall(read('read books', true), readCall.fn)).rejects.toMatchObject({ code: 'MILVUS_RESOURCE_EXHAUSTED' });
    expect(readCall.calls()).toBe(1);
  });

  it('decides a retry from what the call declares, never from the words that describe it', async () => {
    setCallRetryPolicy({ attempts: 5, baseMs: 1, maxMs: 1, sleep: async () => undefined });
    // Worded as a read, declared once-only: not sent again (the old verb rule retried "describe ...").
    const insertWordedAsRead = flaky([grpcError(14)], ok);
    await expect(milvusCall(onceOnly('describe what an insert does'), insertWordedAsRead.fn)).rejects.toBeInstanceOf(TransientError);
    expect(insertWordedAsRead.calls()).toBe(1);
    // Worded as a write, declared idempotent (an upsert): retried (the old verb rule never retried "write ...").
    const upsert = flaky([grpcError(14)], ok);
    await expect(checkedCall(idempotentWrite('write 3 rows (upsert) to books'), upsert.fn)).resolves.toEqual(ok);
    expect(upsert.calls()).toBe(2);
  });

  it('maps authentication refusals to permanent MILVUS_UNAUTHENTICATED, by merr code or by message', () => {
    expect(statusToError({ code: 1400, reason: 'not authenticated' }, 'list databases')).toMatchObject({ name: 'PermanentError', code: 'MILVUS_UNAUTHENTICATED' });
    expect(statusToError({ error_code: 'UnexpectedError', reason: 'auth check failure, please check username and password are correct' }, 'x')).toMatchObject({ code: 'MILVUS_UNAUTHENTICATED' });
    expect(statusToError({ code: 1401, reason: 'privilege not permitted' }, 'x')).toMatchObject({ name: 'PermanentError', code: 'MILVUS_PERMISSION_DENIED' });
  });
});
