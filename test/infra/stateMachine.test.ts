import { beforeAll, describe, expect, it } from 'vitest';
import { stateMachineDefinition, synthesizeTemplate, type LocalStateMachineDefinition } from '../../infra/synth';
import { PermanentError, TransientError } from '../../lib/errors';
import { createLocalStateMachine, type LocalExecutionEvent, type LocalStepHandler } from '../../local/localStateMachine';
import { LocalWorkflowStarter } from '../../local/localWorkflowStarter';
import { COPY_BATCH_LIMITS, copyBatchItems, planCopyBatches, type CopyBatch, type CopyBatchLimits, type PlannedCollection } from '../../lib/copyBatches';
import type { StepId, VerifyOutcome } from '../../lib/workflow/steps';

// The SYNTHESIZED definition runs here with small recording handlers: these tests prove the graph
// (order, loops, retries, failure handling), not the steps.

let synthesized: LocalStateMachineDefinition;
beforeAll(() => {
  synthesized = stateMachineDefinition(synthesizeTemplate());
});

interface Call {
  stepId: StepId;
  payload: any;
}

/** What PlanShards plans in a test: the collections and their shards; the handler cuts them into batches as the real one does. */
interface TestPlan {
  collections: PlannedCollection[];
  shardConcurrency: number;
  limits?: CopyBatchLimits;
}

const TWO_COLLECTIONS: TestPlan = {
  collections: [
    { collectionKey: 'default.films', shards: [0, 1] },
    { collectionKey: 'default.books', shards: [0] },
  ],
  shardConcurrency: 4,
};

/**
 * Recording handlers: CopyShard answers done after `invocationsPerShard` calls for a shard; the
 * plan and the verification outcomes are answered in turn; `overrides` replace any handler.
 */
function recordingHandlers(options: {
  plans?: TestPlan[];
  outcomes?: string[];
  type?: 'offline' | 'online';
  /** Online: what SyncChanges answers in turn (the last answer repeats). */
  syncStates?: string[];
  invocationsPerShard?: number;
  overrides?: Partial<Record<StepId, LocalStepHandler>>;
} = {}) {
  const calls: Call[] = [];
  const plans = [...(options.plans ?? [TWO_COLLECTIONS])];
  const outcomes = [...(options.outcomes ?? ['PASSED'])];
  const syncStates = [...(options.syncStates ?? ['WRITES_STOPPED'])];
  const copies = new Map<string, number>();
  let batches: CopyBatch[] = [];
  const defaults: Record<StepId, LocalStepHandler> = {
    preflight: async () => ({ type: options.type ?? 'offline', collections: 2, rows: 300 }),
    planShards: async () => {
      const plan = (plans.length > 1 ? plans.shift() : plans[0])!;
      batches = planCopyBatches(plan.collections, plan.limits ?? COPY_BATCH_LIMITS);
      return { batches: batches.map((batch) => batch.number), shardConcurrency: plan.shardConcurrency };
    },
    loadCopyBatch: async ({ batch }) => copyBatchItems(batches[batch]!),
    createTargetCollection: async () => ({ created: true }),
    copyShard: async ({ collectionKey, shardIndex }) => {
      const key = `${collectionKey}#${shardIndex}`;
      const count = (copies.get(key) ?? 0) + 1;
      copies.set(key, count);
      return { done: count >= (options.invocationsPerShard ?? 2), rowsCopied: 100 * count };
    },
    buildIndexes: async () => ({ indexed: true }),
    verify: async () => ({ outcome: (outcomes.length > 1 ? outcomes.shift() : outcomes[0]) as VerifyOutcome }),
    finalize: async () => ({ finalized: true }),
    recordFailure: async () => ({ recorded: true }),
    copyAccessControl: async () => ({ skipped: true, users: 0, roles: 0, grants: 0 }),
    startSync: async () => ({ deadlineAt: '2026-11-29T00:00:00.000Z' }),
    syncChanges: async () => ({ state: syncStates.length > 1 ? syncStates.shift() : syncStates[0], syncLagSeconds: 3, waitSeconds: 5 }),
    drainChanges: async () => ({ done: true, rowsCompared: 300, changed: 0 }),
    verifySync: async () => ({ done: true, passed: true, rowsCompared: 300 }),
  };
  const handlers = {} as Record<StepId, LocalStepHandler>;
  for (const stepId of Object.keys(defaults) as StepId[]) {
    const handler = options.overrides?.[stepId] ?? defaults[stepId];
    handlers[stepId] = async (payload, context) => {
      calls.push({ stepId, payload });
      return handler(payload, context);
    };
  }
  const stepsCalled = () => calls.map((call) => call.stepId);
  return { handlers, calls, stepsCalled };
}

function machine(handlers: Record<StepId, LocalStepHandler>, extra: { onEvent?: (event: LocalExecutionEvent) => void } = {}) {
  return createLocalStateMachine({
    ...synthesized,
    handlers,
    // Retries wait nothing locally; the definition's backoff is asserted in stack.test.ts.
    retryIntervalOverrides: { CopyShard: 0, Preflight: 0, PlanShards: 0, Verify: 0 },
    // The sync loop's Wait (seconds on AWS) waits nothing here.
    waitTimeOverrideMs: 0,
    ...extra,
  });
}

describe('offline state machine (synthesized definition, local runtime)', () => {
  it('runs the steps in order and loops CopyShard until each shard of each collection is done', async () => {
    const { handlers, calls, stepsCalled } = recordingHandlers({ invocationsPerShard: 3 });

    const result = await machine(handlers).start({ jobId: 'job-1' }).result;

    expect(result.status).toBe('SUCCEEDED');
    const steps = stepsCalled();
    expect(steps.slice(0, 3)).toEqual(['preflight', 'planShards', 'loadCopyBatch']);
    expect(steps.slice(-2)).toEqual(['verify', 'finalize']);
    expect(steps).not.toContain('recordFailure');
    for (const { collectionKey, shards } of TWO_COLLECTIONS.collections) {
      const ofCollection = calls.filter((call) => call.payload.collectionKey === collectionKey);
      expect(ofCollection[0]).toEqual({ stepId: 'createTargetCollection', payload: { jobId: 'job-1', collectionKey } });
      expect(ofCollection.at(-1)).toEqual({ stepId: 'buildIndexes', payload: { jobId: 'job-1', collectionKey } });
      for (const shardIndex of shards) {
        const copiesOfShard = ofCollection.filter((call) => call.stepId === 'copyShard' && call.payload.shardIndex === shardIndex);
        expect(copiesOfShard).toHaveLength(3);
        expect(copiesOfShard[0]!.payload).toEqual({ jobId: 'job-1', collectionKey, shardIndex });
      }
      expect(ofCollection.filter((call) => call.stepId === 'copyShard')).toHaveLength(3 * shards.length);
    }
    expect(calls.filter((call) => ['preflight', 'planShards', 'verify', 'finalize'].includes(call.stepId)).map((call) => call.payload)).toEqual([
      { jobId: 'job-1' },
      { jobId: 'job-1' },
      { jobId: 'job-1' },
      { jobId: 'job-1' },
    ]);
    // Results live under namespaced paths; the Maps discard theirs, so the output stays small.
    // The stages: every collection created before any shard is copied, indexed after every shard is.
    const stepIndexes = (stepId: StepId) => steps.flatMap((step, i) => (step === stepId ? [i] : []));
    expect(Math.max(...stepIndexes('createTargetCollection'))).toBeLessThan(Math.min(...stepIndexes('copyShard')));
    expect(Math.max(...stepIndexes('copyShard'))).toBeLessThan(Math.min(...stepIndexes('buildIndexes')));
    expect(result.output).toMatchObject({ jobId: 'job-1', plan: { batches: [0, 1], shardConcurrency: 4 }, verification: { outcome: 'PASSED' } });
    expect(result.output).not.toHaveProperty('copy');
  });

  it('goes back to PlanShards when Verify answers RECOPY, then succeeds when it answers PASSED', async () => {
    const recopyPlan: TestPlan = { collections: [{ collectionKey: 'default.books', shards: [0] }], shardConcurrency: 4 };
    const { handlers, calls, stepsCalled } = recordingHandlers({ plans: [TWO_COLLECTIONS, recopyPlan], outcomes: ['RECOPY', 'PASSED'], invocationsPerShard: 1 });

    const result = await machine(handlers).start({ jobId: 'job-2' }).result;

    expect(result.status).toBe('SUCCEEDED');
    const steps = stepsCalled();
    expect(steps.filter((step) => step === 'planShards')).toHaveLength(2);
    expect(steps.filter((step) => step === 'verify')).toHaveLength(2);
    expect(steps.filter((step) => step === 'finalize')).toHaveLength(1);
    // After the first Verify only the replanned collection is created and copied again.
    const afterFirstVerify = calls.slice(steps.indexOf('verify') + 1);
    expect(afterFirstVerify.map((call) => call.stepId)).toEqual([
      'planShards',
      'loadCopyBatch',
      'createTargetCollection',
      'loadCopyBatch',
      'copyShard',
      'loadCopyBatch',
      'buildIndexes',
      'copyAccessControl',
      'verify',
      'finalize',
    ]);
    expect(afterFirstVerify[2]!.payload).toEqual({ jobId: 'job-2', collectionKey: 'default.books' });
  });

  it('creates a collection split over several copy batches once before any of its shards, and indexes it once after all of them', async () => {
    const plan: TestPlan = {
      collections: [
        { collectionKey: 'default.big', shards: [0, 1, 2, 3, 4] },
        { collectionKey: 'default.small', shards: [0] },
      ],
      shardConcurrency: 2,
      limits: { shards: 2, collections: 2, batches: 100 },
    };
    const { handlers, calls, stepsCalled } = recordingHandlers({ plans: [plan], invocationsPerShard: 2 });

    const result = await machine(handlers).start({ jobId: 'job-split' }).result;

    expect(result.status).toBe('SUCCEEDED');
    // big's 5 shards in batches of 2, 2 and 1 (the first owns it), small in the fourth.
    expect(result.output).toMatchObject({ plan: { batches: [0, 1, 2, 3] } });
    // Three stages, each a child execution per batch that loads its batch first.
    expect(stepsCalled().filter((step) => step === 'loadCopyBatch')).toHaveLength(12);
    const ofBig = calls.flatMap((call, i) => (call.payload.collectionKey === 'default.big' ? [{ ...call, i }] : []));
    const creates = ofBig.filter((call) => call.stepId === 'createTargetCollection');
    const copies = ofBig.filter((call) => call.stepId === 'copyShard');
    const indexes = ofBig.filter((call) => call.stepId === 'buildIndexes');
    expect(creates).toHaveLength(1);
    expect(indexes).toHaveLength(1);
    expect(new Set(copies.map((call) => call.payload.shardIndex))).toEqual(new Set([0, 1, 2, 3, 4]));
    expect(copies).toHaveLength(10);
    expect(creates[0]!.i).toBeLessThan(copies[0]!.i);
    expect(indexes[0]!.i).toBeGreaterThan(copies.at(-1)!.i);
  });

  it('a failing copy batch stops the others: no queued batch starts, the batch records the error once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { handlers, calls } = recordingHandlers({
      // Six batches of one collection each; the Distributed Map runs 4 at once.
      plans: [{ collections: [0, 1, 2, 3, 4, 5].map((i) => ({ collectionKey: `default.c${i}`, shards: [0] })), shardConcurrency: 4, limits: { shards: 1, collections: 1, batches: 100 } }],
      overrides: {
        copyShard: async ({ collectionKey }) => {
          if (collectionKey === 'default.c0') throw new PermanentError('SCHEMA_REFUSED', 'refused');
          await gate; // batches 1-3 are still copying when batch 0 fails; 4 and 5 wait behind MaxConcurrency 4
          return { done: true, rowsCopied: 1 };
        },
        recordFailure: async () => {
          release();
          for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
          return {};
        },
      },
    });

    const result = await machine(handlers).start({ jobId: 'job-batch-failed' }).result;

    expect(result.error?.Error).toBe('PermanentError');
    expect(calls.filter((call) => call.stepId === 'copyShard').map((call) => call.payload.collectionKey).sort()).toEqual(['default.c0', 'default.c1', 'default.c2', 'default.c3']);
    expect(calls.filter((call) => call.stepId === 'buildIndexes')).toEqual([]);
    const recorded = calls.filter((call) => call.stepId === 'recordFailure').map((call) => call.payload.error.Error);
    // The failing child's record, then the parent's; the batches stopped record nothing (on AWS they are stopped, not failed).
    expect(recorded).toEqual(['PermanentError', 'PermanentError']);
  });

  it('records a PermanentError of CopyShard without retrying it and fails the execution with it', async () => {
    const { handlers, calls, stepsCalled } = recordingHandlers({
      overrides: {
        copyShard: async ({ collectionKey }) => {
          if (collectionKey === 'default.books') throw new PermanentError('SCHEMA_REFUSED', 'the target refuses the schema of default.books');
          return { done: true, rowsCopied: 1 };
        },
      },
    });

    const result = await machine(handlers).start({ jobId: 'job-3' }).result;

    expect(result).toEqual({ status: 'FAILED', error: { Error: 'PermanentError', Cause: 'the target refuses the schema of default.books' } });
    const booksCopies = calls.filter((call) => call.stepId === 'copyShard' && call.payload.collectionKey === 'default.books');
    expect(booksCopies).toHaveLength(1);
    // The child execution records the error first (on AWS the parent sees only States.ExceedToleratedFailureThreshold),
    // then the parent's RecordFailure runs (RecordFailure keeps the first error of a job).
    const failures = calls.filter((call) => call.stepId === 'recordFailure');
    const refused = { stepId: 'recordFailure', payload: { jobId: 'job-3', error: { Error: 'PermanentError', Cause: 'the target refuses the schema of default.books' } } };
    expect(failures).toEqual([refused, refused]);
    expect(stepsCalled()).not.toContain('verify');
    expect(stepsCalled()).not.toContain('finalize');
  });

  it('retries a TransientError of CopyShard and then succeeds', async () => {
    let failuresLeft = 2;
    const events: LocalExecutionEvent[] = [];
    const { handlers, calls, stepsCalled } = recordingHandlers({
      plans: [{ collections: [{ collectionKey: 'default.films', shards: [0] }], shardConcurrency: 4 }],
      overrides: {
        copyShard: async () => {
          if (failuresLeft-- > 0) throw new TransientError('UNAVAILABLE', 'target unavailable');
          return { done: true, rowsCopied: 10 };
        },
      },
    });

    const execution = machine(handlers, { onEvent: (event) => events.push(event) }).start({ jobId: 'job-4' });
    const result = await execution.result;

    expect(result.status).toBe('SUCCEEDED');
    expect(calls.filter((call) => call.stepId === 'copyShard')).toHaveLength(3);
    expect(stepsCalled()).not.toContain('recordFailure');
    const retried = events.filter((event) => event.type === 'StateRetried') as Array<Extract<LocalExecutionEvent, { type: 'StateRetried' }>>;
    expect(retried.map((event) => event.state.name)).toEqual(['CopyShard', 'CopyShard']);
    expect(new Set(events.map((event) => event.executionArn))).toEqual(new Set([execution.executionArn]));
  });

  it('records a TransientError that outlasts its six retries', async () => {
    const { handlers, calls } = recordingHandlers({
      overrides: {
        preflight: async () => {
          throw new TransientError('UNAVAILABLE', 'source unavailable');
        },
      },
    });

    const result = await machine(handlers).start({ jobId: 'job-5' }).result;

    expect(result).toEqual({ status: 'FAILED', error: { Error: 'TransientError', Cause: 'source unavailable' } });
    expect(calls.filter((call) => call.stepId === 'preflight')).toHaveLength(7);
    expect(calls.at(-1)).toEqual({ stepId: 'recordFailure', payload: { jobId: 'job-5', error: { Error: 'TransientError', Cause: 'source unavailable' } } });
  });

  it('records an outcome Verify should never answer as a failure', async () => {
    const { handlers, calls } = recordingHandlers({ outcomes: ['MAYBE'], invocationsPerShard: 1 });

    const result = await machine(handlers).start({ jobId: 'job-6' }).result;

    expect(result.status).toBe('FAILED');
    expect(result.error?.Error).toBe('UnknownVerificationOutcome');
    expect(calls.at(-1)?.stepId).toBe('recordFailure');
    expect(calls.at(-1)?.payload.error.Cause).toContain('MAYBE');
  });

  it.each([1, 3])('copies at most the job\'s shardConcurrency (%i) shards of a collection at once', async (shardConcurrency) => {
    let inFlight = 0;
    let peak = 0;
    const { handlers } = recordingHandlers({
      plans: [{ collections: [{ collectionKey: 'default.films', shards: [0, 1, 2, 3, 4, 5] }], shardConcurrency }],
      overrides: {
        copyShard: async () => {
          inFlight += 1;
          peak = Math.max(peak, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 20));
          inFlight -= 1;
          return { done: true, rowsCopied: 1 };
        },
      },
    });
    const result = await machine(handlers).start({ jobId: 'job-concurrency' }).result;
    expect(result.status).toBe('SUCCEEDED');
    expect(peak).toBe(shardConcurrency);
  });

  it('starts no queued shard once a shard has failed the Map (as on AWS)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { handlers, calls } = recordingHandlers({
      plans: [{ collections: [{ collectionKey: 'default.films', shards: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }], shardConcurrency: 4 }],
      overrides: {
        copyShard: async ({ shardIndex }) => {
          if (shardIndex === 0) throw new PermanentError('SCHEMA_REFUSED', 'refused');
          await gate; // shards 1-3 are still copying when shard 0 fails; 4-9 wait behind MaxConcurrency 4
          return { done: true, rowsCopied: 1 };
        },
        recordFailure: async () => {
          // Let the copies in flight answer, which frees Map slots for the queued shards.
          release();
          for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
          return {};
        },
      },
    });

    const result = await machine(handlers).start({ jobId: 'job-8' }).result;

    expect(result.error?.Error).toBe('PermanentError');
    expect(calls.filter((call) => call.stepId === 'copyShard').map((call) => call.payload.shardIndex).sort()).toEqual([0, 1, 2, 3]);
  });

  it('replaces task timeouts locally: CopyShard retries States.Timeout, then the failure is recorded', async () => {
    const { handlers, calls } = recordingHandlers({
      plans: [{ collections: [{ collectionKey: 'default.films', shards: [0] }], shardConcurrency: 4 }],
      overrides: { copyShard: () => new Promise(() => {}) }, // never answers
    });
    const sm = createLocalStateMachine({ ...synthesized, handlers, taskTimeoutSeconds: 1, retryIntervalOverrides: { CopyShard: 0 } });

    const result = await sm.start({ jobId: 'job-9' }).result;

    expect(result.error?.Error).toBe('States.Timeout');
    expect(calls.filter((call) => call.stepId === 'copyShard')).toHaveLength(4); // the first try and 3 retries
    expect(calls.at(-1)).toMatchObject({ stepId: 'recordFailure', payload: { error: { Error: 'States.Timeout' } } });
  });

  it('ends ABORTED when aborted during a copy, and runs no further step', async () => {
    let copyStarted!: () => void;
    const started = new Promise<void>((resolve) => (copyStarted = resolve));
    let signalSeen: AbortSignal | undefined;
    const { handlers, stepsCalled } = recordingHandlers({
      overrides: {
        copyShard: (_payload, { signal }) => {
          signalSeen = signal;
          copyStarted();
          return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ done: false, rowsCopied: 0 })));
        },
      },
    });
    const execution = machine(handlers).start({ jobId: 'job-7' });

    await started;
    execution.abort();
    const result = await execution.result;

    expect(result).toEqual({ status: 'ABORTED' });
    expect(signalSeen?.aborted).toBe(true);
    // Let what the runtime still had scheduled run (the aborted copy answered): no step may start after the abort.
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(stepsCalled()).not.toContain('buildIndexes');
    expect(stepsCalled()).not.toContain('verify');
    expect(stepsCalled()).not.toContain('recordFailure');
  });

  it('LocalWorkflowStarter runs an execution in the background, and stop() aborts it', async () => {
    const settled: Array<[string, string]> = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { handlers } = recordingHandlers({
      overrides: {
        preflight: async (payload: { jobId: string }) => {
          if (payload.jobId === 'job-stopped') await new Promise(() => {}); // never answers
          await gate;
          return { type: 'offline', collections: 2, rows: 300 };
        },
      },
    });
    const starter = new LocalWorkflowStarter(machine(handlers), { onSettled: (executionArn, _jobId, result) => void settled.push([executionArn, result.status]) });

    const finished = await starter.start('job-finished');
    const stopped = await starter.start('job-stopped');
    expect(starter.running()).toEqual([finished.executionArn, stopped.executionArn]);
    await starter.stop(stopped.executionArn, 'cancelled by the operator');
    release();

    expect(await starter.wait(stopped.executionArn)).toEqual({ status: 'ABORTED' });
    expect((await starter.wait(finished.executionArn)).status).toBe('SUCCEEDED');
    expect(settled).toEqual(expect.arrayContaining([[stopped.executionArn, 'ABORTED'], [finished.executionArn, 'SUCCEEDED']]));
    expect(starter.running()).toEqual([]);
    await expect(starter.wait('arn:aws:states:us-east-1:000000000000:execution:Migration:unknown')).rejects.toThrow('no local execution');
  });
});

/** AWS history events per visit of a state, by type (Task: entered, scheduled, started, succeeded, exited). */
const HISTORY_EVENTS_PER_VISIT: Record<string, number> = { Task: 5, Choice: 2, Wait: 2, Pass: 2 };
/** Every state of a definition by name, those inside Map iterations included. */
function allStates(definition: any): Record<string, { Type: string }> {
  const out: Record<string, { Type: string }> = {};
  for (const [name, state] of Object.entries<any>(definition.States ?? {})) {
    out[name] = state;
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner) Object.assign(out, allStates(inner));
  }
  return out;
}

/** Step Functions' hard limit per execution. */
const HISTORY_LIMIT = 25_000;

describe('online state machine (synthesized definition, local runtime)', () => {
  it('copies, then loops SyncChanges -> SyncState? -> WaitForNextSync until writes stop, then drains, verifies and finishes, calling each again until done', async () => {
    // A comparison longer than one invocation: the drain answers done on its second call, the verification on its third.
    let drains = 0;
    let verifications = 0;
    const { handlers, stepsCalled } = recordingHandlers({
      type: 'online',
      invocationsPerShard: 1,
      syncStates: ['SYNCING', 'SYNCING', 'SYNCING', 'WRITES_STOPPED'],
      overrides: {
        drainChanges: async () => ({ done: ++drains >= 2, rowsCompared: 100 * drains, changed: 0 }),
        verifySync: async () => (++verifications >= 3 ? { done: true, passed: true, rowsCompared: 300 } : { done: false, rowsCompared: 100 * verifications }),
      },
    });
    const events: LocalExecutionEvent[] = [];

    const result = await machine(handlers, { onEvent: (event) => events.push(event) }).start({ jobId: 'job-online' }).result;

    expect(result.status).toBe('SUCCEEDED');
    const steps = stepsCalled();
    expect(steps).not.toContain('verify'); // the offline count check would race the writers
    const fromCopy = steps.slice(steps.indexOf('copyAccessControl'));
    expect(fromCopy).toEqual(['copyAccessControl', 'startSync', 'syncChanges', 'syncChanges', 'syncChanges', 'syncChanges', 'drainChanges', 'drainChanges', 'verifySync', 'verifySync', 'verifySync', 'finalize']);
    // The event log is read asynchronously: let its last events arrive.
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    const waits = events.filter((event) => event.type === 'StateEntered' && (event as any).state?.name === 'WaitForNextSync');
    expect(waits).toHaveLength(3);
  });

  it('fails the job through RecordFailure when SyncChanges fails (e.g. the sync deadline passed)', async () => {
    const { handlers, calls, stepsCalled } = recordingHandlers({
      type: 'online',
      invocationsPerShard: 1,
      overrides: {
        syncChanges: async () => {
          throw new PermanentError('SYNC_DEADLINE_PASSED', 'sync ran 7 days without confirmation');
        },
      },
    });

    const result = await machine(handlers).start({ jobId: 'job-deadline' }).result;

    expect(result.status).toBe('FAILED');
    expect(stepsCalled().filter((s) => s === 'syncChanges')).toHaveLength(1); // a PermanentError is not retried
    const recorded = calls.find((call) => call.stepId === 'recordFailure');
    expect(recorded?.payload.error.Error).toBe('PermanentError');
    expect(recorded?.payload.error.Cause).toContain('sync ran 7 days');
  });

  it('stays under the 25,000-event history limit for 7 days of sync, with the loop measured on the synthesized graph', async () => {
    const turns = 20;
    const { handlers } = recordingHandlers({ type: 'online', invocationsPerShard: 1, syncStates: [...Array(turns).fill('SYNCING'), 'WRITES_STOPPED'] });
    const entered: string[] = [];
    const outputs: unknown[] = [];

    const result = await machine(handlers, {
      onEvent: (event: any) => {
        if (event.type === 'StateEntered') entered.push(event.state.name);
        if (event.type === 'StateExited') outputs.push(event.state.output);
      },
    }).start({ jobId: 'job-history' }).result;
    expect(result.status).toBe('SUCCEEDED');

    // History events of one loop turn, counted from the states the execution actually entered.
    const states = allStates(synthesized.definition);
    const perVisit = (name: string) => HISTORY_EVENTS_PER_VISIT[states[name]!.Type] ?? 2;
    const loop = ['SyncChanges', 'SyncState?', 'WaitForNextSync'];
    for (const name of loop) expect(entered.filter((n) => n === name).length).toBeGreaterThanOrEqual(turns);
    const perTurn = loop.reduce((sum, name) => sum + perVisit(name), 0);
    const beforeLoop = entered.slice(0, entered.indexOf('SyncChanges')).reduce((sum, name) => sum + perVisit(name), 0);
    expect(perTurn).toBe(9);

    // On AWS one turn lasts at least the SyncChanges budget (Lambda's 15 min less a 90 s margin) plus the Wait.
    const turnSeconds = 15 * 60 - 90 + 5;
    const sevenDayTurns = Math.ceil((7 * 24 * 3600) / turnSeconds);
    const projected = beforeLoop + sevenDayTurns * perTurn + 40; // + drain, verify, finalize and a few retries
    console.log(`history projection: ${beforeLoop} events before the loop, ${perTurn} per turn, ${sevenDayTurns} turns in 7 days -> ${projected} of ${HISTORY_LIMIT}`);
    expect(projected).toBeLessThan(HISTORY_LIMIT);

    // Payloads stay tiny whatever the number of turns (256 KB is the limit).
    const largest = Math.max(...outputs.map((o) => JSON.stringify(o ?? null).length));
    expect(largest).toBeLessThan(4 * 1024);
  });
});
