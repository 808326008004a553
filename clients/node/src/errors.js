'use strict';
/**
 * Errors of the Dealwire client.
 *
 * Every failed RPC rejects with a subclass of {@link DealwireError} that keeps
 * the gRPC status code and the server's message (which names the offending
 * field). The class says what the caller should do (see docs/server.md):
 *
 *   class               gRPC code            what to do
 *   Conflict            ABORTED              re-read the stream, decide again
 *   InvalidArgument     INVALID_ARGUMENT     fix the request
 *   FailedPrecondition  FAILED_PRECONDITION  fix the state first
 *   NotFound            NOT_FOUND            the thing does not exist
 *   AlreadyExists       ALREADY_EXISTS       an event id reused differently
 *   Unavailable         UNAVAILABLE          retry unchanged (idempotent)
 *   DeadlineExceeded    DEADLINE_EXCEEDED    retry unchanged
 *   ResourceExhausted   RESOURCE_EXHAUSTED   split the request
 *   OutOfRange          OUT_OF_RANGE         position beyond the log end
 *   Unauthenticated     UNAUTHENTICATED      pass a valid token
 *   PermissionDenied    PERMISSION_DENIED    use a token with the role
 *   Cancelled           CANCELLED            the call was cancelled
 *   DealwireError       anything else        (INTERNAL, DATA_LOSS, ...)
 *
 *   try {
 *     await client.append('org/openai', [event], { expectedVersion: 'no_stream' });
 *   } catch (e) {
 *     if (e instanceof Conflict) console.log(e.codeName, e.details, e.actualVersion);
 *   }
 */

const { status: Status } = require('@grpc/grpc-js');

/** @type {Record<number, string>} */
const CODE_NAMES = Object.fromEntries(
  Object.entries(Status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k]),
);

/** A failed Dealwire RPC. */
class DealwireError extends Error {
  /**
   * @param {number} code the gRPC status code (grpc.status.*)
   * @param {string} details the server's status message
   * @param {import('@grpc/grpc-js').Metadata} [metadata] trailing metadata
   */
  constructor(code, details, metadata) {
    super(`${CODE_NAMES[code] || code}: ${details || ''}`);
    this.name = this.constructor.name;
    /** The gRPC status code, a value of grpc.status. */
    this.code = code;
    /** The name of the code, e.g. "ABORTED". */
    this.codeName = CODE_NAMES[code] || String(code);
    /** The server's status message; it names the offending field. */
    this.details = details || '';
    /** Trailing metadata of the failed call, when any. */
    this.metadata = metadata;
  }
}

/**
 * ABORTED: an append's expectedVersion did not hold; nothing was written.
 * Re-read the stream and decide again.
 */
class Conflict extends DealwireError {
  constructor(code, details, metadata) {
    super(code, details, metadata);
    const match = /actual version (\d+)/.exec(this.details);
    /** The stream's actual version ("actual version N"), or null. */
    this.actualVersion = match ? Number(match[1]) : null;
    /** False when the stream does not exist, true when a version was given, null otherwise. */
    this.streamExists = match ? true : /does not exist/.test(this.details) ? false : null;
  }
}
/** INVALID_ARGUMENT: the request itself is wrong; the message names the field. */
class InvalidArgument extends DealwireError {}
/** FAILED_PRECONDITION: valid, but not against the current state (unknown organization, stage going back, ...). */
class FailedPrecondition extends DealwireError {}
/** NOT_FOUND: the stream, organization, deal or subscription does not exist. */
class NotFound extends DealwireError {}
/** ALREADY_EXISTS: an event id is already stored with different content or in another stream. */
class AlreadyExists extends DealwireError {}
/** UNAVAILABLE: the server is stopping, unreachable or its write queue is full; retry unchanged. */
class Unavailable extends DealwireError {}
/** DEADLINE_EXCEEDED: the call took longer than its deadline; the outcome is unknown, retry unchanged. */
class DeadlineExceeded extends DealwireError {}
/** RESOURCE_EXHAUSTED: a limit was exceeded (events per append, event size); split the request. */
class ResourceExhausted extends DealwireError {}
/** OUT_OF_RANGE: a position beyond the end of the log. */
class OutOfRange extends DealwireError {}
/** UNAUTHENTICATED: no or an invalid token. */
class Unauthenticated extends DealwireError {}
/** PERMISSION_DENIED: the token's role is too weak. */
class PermissionDenied extends DealwireError {}
/** CANCELLED: the call was cancelled. */
class Cancelled extends DealwireError {}

/** @type {Record<number, typeof DealwireError>} */
const BY_CODE = {
  [Status.ABORTED]: Conflict,
  [Status.INVALID_ARGUMENT]: InvalidArgument,
  [Status.FAILED_PRECONDITION]: FailedPrecondition,
  [Status.NOT_FOUND]: NotFound,
  [Status.ALREADY_EXISTS]: AlreadyExists,
  [Status.UNAVAILABLE]: Unavailable,
  [Status.DEADLINE_EXCEEDED]: DeadlineExceeded,
  [Status.RESOURCE_EXHAUSTED]: ResourceExhausted,
  [Status.OUT_OF_RANGE]: OutOfRange,
  [Status.UNAUTHENTICATED]: Unauthenticated,
  [Status.PERMISSION_DENIED]: PermissionDenied,
  [Status.CANCELLED]: Cancelled,
};

/**
 * Returns the DealwireError subclass instance for a grpc-js error
 * (an Error with `code`, `details` and `metadata`).
 * @param {any} err
 * @returns {DealwireError}
 */
function fromGrpcError(err) {
  if (err instanceof DealwireError) return err;
  const code = typeof err?.code === 'number' ? err.code : Status.UNKNOWN;
  const details = err?.details ?? err?.message ?? String(err);
  const Cls = BY_CODE[code] || DealwireError;
  const e = new Cls(code, details, err?.metadata);
  if (err instanceof Error) e.cause = err;
  return e;
}

module.exports = {
  DealwireError, Conflict, InvalidArgument, FailedPrecondition, NotFound, AlreadyExists,
  Unavailable, DeadlineExceeded, ResourceExhausted, OutOfRange, Unauthenticated,
  PermissionDenied, Cancelled, fromGrpcError, CODE_NAMES,
};
