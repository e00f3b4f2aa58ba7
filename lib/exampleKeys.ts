/**
 * Characters of a primary key shown as an example in a message, a warning or a checkpoint. A
 * VarChar key may hold 65,535 bytes, and the job item that keeps such examples holds 400 KB in all.
 */
export const EXAMPLE_CHARS = 64;

/** The key, cut to EXAMPLE_CHARS characters (an ellipsis says it was cut). */
export function exampleKey(key: string): string {
  const chars = Array.from(key);
  return chars.length > EXAMPLE_CHARS ? `${chars.slice(0, EXAMPLE_CHARS).join('')}…` : key;
}
