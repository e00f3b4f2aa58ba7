import type { CallContext } from './state';

/** A unary MilvusService method: decoded request (proto-loader options) -> response object. */
type Handler = (req: any, ctx: CallContext) => unknown;
export type Handlers = Record<string, Handler>;
