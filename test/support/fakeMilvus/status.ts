/**
 * Milvus statuses. Real Milvus (merr.Status) sets the new numeric `code` and the legacy
 * `error_code` (merr.oldCode) together; success is code 0 / error_code Success.
 * Codes from milvus pkg/util/merr/errors.go.
 */
export const Code = {
  CollectionNotFound: 100,
  CollectionNotLoaded: 101,
  PartitionNotFound: 200,
  ResourceGroupNodeNotEnough: 304,
  IndexNotFound: 700,
  IndexDuplicate: 702,
  DatabaseNotFound: 800,
  DatabaseInvalidName: 802,
  ParameterInvalid: 1100,
  ParameterMissing: 1101,
  PrivilegeNotPermitted: 1401,
  AliasNotFound: 1600,
  AliasCollectionNameConflict: 1601,
  AliasAlreadyExist: 1602,
  FieldNotFound: 1700,
  Unexpected: 65535,
} as const;

/** merr.oldCode: the legacy ErrorCode enum name that goes with a new code. */
function legacyErrorCode(code: number): string {
  switch (code) {
    case Code.CollectionNotFound:
      return 'CollectionNotExists';
    case Code.ParameterInvalid:
      return 'IllegalArgument';
    case Code.IndexNotFound:
      return 'IndexNotExist';
    case Code.PartitionNotFound:
      return 'MetaFailed';
    default:
      return 'UnexpectedError';
  }
}

export interface Status {
  error_code: string;
  reason: string;
  code: number;
  retriable: boolean;
  detail: string;
  extra_info: Record<string, string>;
}

const OK: Status = Object.freeze({
  error_code: 'Success',
  reason: '',
  code: 0,
  retriable: false,
  detail: '',
  extra_info: {},
}) as Status;

export function ok(): Status {
  return { ...OK, extra_info: {} };
}

/** An error answered as a Milvus status (not as a gRPC error), like the real proxy does. */
export class MilvusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
  toStatus(): Status {
    return {
      error_code: legacyErrorCode(this.code),
      reason: this.message,
      code: this.code,
      retriable: false,
      detail: this.message,
      extra_info: {},
    };
  }
}

export const errors = {
  collectionNotFound: (db: string, name: string) =>
    new MilvusError(Code.CollectionNotFound, `collection not found[database=${db}][collection=${name}]`),
  collectionNotLoaded: (name: string) => new MilvusError(Code.CollectionNotLoaded, `collection not loaded[collection=${name}]`),
  partitionNotFound: (name: string) => new MilvusError(Code.PartitionNotFound, `partition not found[partition=${name}]`),
  databaseNotFound: (db: string) => new MilvusError(Code.DatabaseNotFound, `database not found[database=${db}]`),
  indexNotFound: (collection: string) => new MilvusError(Code.IndexNotFound, `index not found[collection=${collection}]`),
  aliasNotFound: (alias: string) => new MilvusError(Code.AliasNotFound, `alias not found[database=][alias=${alias}]`),
  invalid: (msg: string) => new MilvusError(Code.ParameterInvalid, `${msg}: invalid parameter`),
  unexpected: (msg: string) => new MilvusError(Code.Unexpected, msg),
};
