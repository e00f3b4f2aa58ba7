import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stateMachineMermaid } from '../../infra/diagram';
import { stateMachineDefinition, synthesizeTemplate } from '../../infra/synth';
import { stateMachineDocument } from '../../scripts/stateMachineDiagram';

describe('the state machine picture', () => {
  it('in docs/state-machine.md is the one the synthesized definition draws (run npm run diagram after changing the graph)', () => {
    expect(readFileSync('docs/state-machine.md', 'utf8')).toBe(stateMachineDocument());
  });

  it('draws every state, the shard loop, the re-copy loop and the catch paths', () => {
    const { definition } = stateMachineDefinition(synthesizeTemplate());
    const mermaid = stateMachineMermaid(definition as never);
    for (const state of ['Preflight', 'PlanShards', 'CreateTargetCollection', 'CopyShard', 'BuildIndexes', 'Verify', 'Finalize', 'RecordFailure']) {
      expect(mermaid).toContain(`${state}["${state} ↻"]`);
    }
    expect(mermaid).toContain('subgraph CopyCollections["CopyCollections: a child execution for each item of $.plan.batches"]');
    expect(mermaid).toContain('subgraph CopyShards["CopyShards: for each item of $.items.shards"]');
    expect(mermaid).toContain('ShardDone_ -->|"copy.done = true"| ShardCopied');
    expect(mermaid).toContain('VerificationOutcome -->|"verification.outcome = RECOPY"| PlanShards');
    expect(mermaid).toContain('Preflight -.->|"States.ALL"| RecordFailure');
  });
});
