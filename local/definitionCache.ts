import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import type { LocalStateMachineDefinition } from '../infra/synth';
import { VALIDATION } from './localStateMachine';
import { cacheDir, sourceHash } from './sourceHash';

/** What the synthesized definition depends on: the CDK app, what it imports, and the CDK's version. */
const SOURCES = ['infra', 'lib', 'functions', 'package-lock.json', 'package.json', 'cdk.json', 'tsconfig.json'];

/**
 * The state machine the local runtime runs, synthesized from the CDK app (infra/synth.ts) and
 * validated as aws-local-stepfunctions validates a definition, once per content of its sources,
 * and kept as JSON under node_modules/.cache/milvus-migrate/. Loading the CDK, synthesizing and
 * validating took about 5 s of CPU at every start of the local runtime; reading the file takes
 * milliseconds. The definition is the same either way: a change to any source is a new hash, so a
 * new synth. What it returns may be run with `validated: true` (local/localStateMachine.ts).
 */
export async function synthesizedDefinition(options: { cacheDir?: string } = {}): Promise<LocalStateMachineDefinition> {
  const dir = options.cacheDir ?? cacheDir;
  const file = join(dir, `state-machine-${sourceHash(SOURCES)}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as LocalStateMachineDefinition;
  const { stateMachineDefinition, synthesizeTemplate } = await import('../infra/synth');
  const synthesized = stateMachineDefinition(synthesizeTemplate());
  // Throws on a definition aws-local-stepfunctions would refuse, so none is cached. On a copy: it fills in defaults (QueryLanguage).
  new StateMachine(structuredClone(synthesized.definition) as never, { validationOptions: VALIDATION });
  mkdirSync(dir, { recursive: true });
  // Written aside and renamed, so a reader never sees half a file.
  const writing = `${file}.${process.pid}`;
  writeFileSync(writing, JSON.stringify(synthesized));
  renameSync(writing, file);
  return synthesized;
}
