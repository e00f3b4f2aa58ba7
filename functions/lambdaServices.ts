import type { Services } from '../lib/services';

/*
 * Lambda wiring of the step functions: what a function builds from its environment on its first
 * invocation and reuses while its container stays warm (clients, connection pools). Only the
 * Lambda entry points use it; the local runtime and tests pass services of their own to the
 * handlers (functions/registry.ts, stepHandlersFor). The API function's own is in functions/api.ts.
 */

let services: Services | undefined;

/**
 * The steps' services in Lambda, from the environment the stack sets (kept only once built: a bad
 * environment fails every invocation, naming what is wrong), opening clusters with `openCluster`.
 */
export async function lambdaStepServices(openCluster?: Services['openCluster']): Promise<Services> {
  if (!services) {
    // Loaded on first use: the local runtime imports the step adapters without needing these clients.
    const { servicesFromEnvironment } = await import('../lib/servicesFromEnvironment');
    services ??= servicesFromEnvironment(process.env, undefined, openCluster);
  }
  return services;
}
