/**
 * On Ctrl-C or SIGTERM, runs `cleanup` once (stop DynamoDB Local, milvus-lite, the executions),
 * then exits 130 or 143, so no server is left behind. A second signal ends the process at once.
 * Returns a function that removes the handlers.
 */
export function cleanupOnSignal(cleanup: () => Promise<unknown>): () => void {
  const handler = (signal: NodeJS.Signals) => {
    remove();
    process.stderr.write(`milvus-migrate: ${signal}: stopping the local servers\n`);
    void cleanup()
      .catch(() => undefined)
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  const remove = () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return remove;
}
