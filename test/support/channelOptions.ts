/**
 * Channel options of the tests' own SDK clients. The SDK pings every 10 s even with no call in
 * flight; milvus-lite's gRPC server allows that only every 5 minutes and, after two such pings,
 * closes the connection with ENHANCE_YOUR_CALM, which fails the calls on it with
 * RESOURCE_EXHAUSTED "Bandwidth exhausted or memory limit exceeded" (seen in a long resume test).
 * Pings while calls are in flight are kept.
 */
export const TEST_CHANNEL_OPTIONS = { 'grpc.keepalive_permit_without_calls': 0 };
