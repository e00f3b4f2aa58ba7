import v8 from 'node:v8';

/**
 * Copying moves hundreds of MB through Buffers, which V8 counts as external memory. Every 64 MB
 * of it starts an incremental marking of the whole heap, and those marking steps cost the copier
 * about a third of its CPU on a 768-d copy. One atomic mark-compact per trigger costs a fraction
 * of that (bench/copyThroughput.ts, `--gc incremental` to compare); its pause (tens of ms on a
 * heap this size) is nothing to a batch copy. Process-wide, so the step process calls it once.
 */
export function preferAtomicGc(): void {
  v8.setFlagsFromString('--no-incremental-marking');
}
