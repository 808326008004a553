"""Exceptions raised by the Dealwire client.

Every failed RPC surfaces as a subclass of :class:`Error` that keeps the gRPC
status code and the server's message (which names the offending field)::

    try:
        client.append("org/openai", [event], expected_version="no_stream")
    except dealwire.Conflict as e:      # ABORTED: re-read and decide again
        print(e.code, e.message, e.actual_version)

The class says what the caller should do (see docs/server.md):

==========================  =====================  ==============================
class                       gRPC code              what to do
==========================  =====================  ==============================
Conflict                    ABORTED                re-read the stream, retry
InvalidArgument             INVALID_ARGUMENT       fix the request
FailedPrecondition          FAILED_PRECONDITION    fix the state first
NotFound                    NOT_FOUND              the thing does not exist
AlreadyExists               ALREADY_EXISTS         an event id reused differently
Unavailable                 UNAVAILABLE            retry unchanged (idempotent)
DeadlineExceeded            DEADLINE_EXCEEDED      retry unchanged
ResourceExhausted           RESOURCE_EXHAUSTED     split the request
OutOfRange                  OUT_OF_RANGE           position beyond the log end
Unauthenticated             UNAUTHENTICATED        pass a valid token
PermissionDenied            PERMISSION_DENIED      use a token with the role
Cancelled                   CANCELLED              the call was cancelled
Error                       anything else          (INTERNAL, DATA_LOSS, ...)
==========================  =====================  ==============================
"""

import re

import grpc

__all__ = [
    "Error", "Conflict", "InvalidArgument", "FailedPrecondition", "NotFound",
    "AlreadyExists", "Unavailable", "DeadlineExceeded", "ResourceExhausted",
    "OutOfRange", "Unauthenticated", "PermissionDenied", "Cancelled",
    "from_rpc_error",
]


class Error(Exception):
    """A failed Dealwire RPC.

    Attributes:
        code: the ``grpc.StatusCode``.
        message: the server's status message (names the offending field).
    """

    def __init__(self, code, message):
        self.code = code
        self.message = message or ""
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        super().__init__(f"{name}: {self.message}")


class Conflict(Error):
    """ABORTED: an append's ``expected_version`` did not hold; nothing was written.

    Attributes:
        actual_version: the stream's actual version, parsed from the message
            ("actual version N"), or None when the stream does not exist (or
            the message did not say).
        stream_exists: False when the message says the stream does not exist,
            True when it gives a version, None when it says neither.
    """

    def __init__(self, code, message):
        super().__init__(code, message)
        match = re.search(r"actual version (\d+)", self.message)
        self.actual_version = int(match.group(1)) if match else None
        if match:
            self.stream_exists = True
        elif "does not exist" in self.message:
            self.stream_exists = False
        else:
            self.stream_exists = None


class InvalidArgument(Error):
    """INVALID_ARGUMENT: the request is malformed; the message names the field."""


class FailedPrecondition(Error):
    """FAILED_PRECONDITION: valid request, but not against the current state."""


class NotFound(Error):
    """NOT_FOUND: the stream, organization, deal or subscription does not exist."""


class AlreadyExists(Error):
    """ALREADY_EXISTS: an event id is stored with other content or elsewhere."""


class Unavailable(Error):
    """UNAVAILABLE: server down, shutting down or overloaded; retry unchanged."""


class DeadlineExceeded(Error):
    """DEADLINE_EXCEEDED: the call's timeout passed; the outcome is unknown."""


class ResourceExhausted(Error):
    """RESOURCE_EXHAUSTED: a server limit (events per append, event size)."""


class OutOfRange(Error):
    """OUT_OF_RANGE: e.g. a min_position or known_at beyond the log end."""


class Unauthenticated(Error):
    """UNAUTHENTICATED: missing or invalid bearer token."""


class PermissionDenied(Error):
    """PERMISSION_DENIED: the token's role is too weak for the RPC."""


class Cancelled(Error):
    """CANCELLED: the call was cancelled."""


_BY_CODE = {
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.CANCELLED: Cancelled,
}


def from_rpc_error(error):
    """Returns the :class:`Error` subclass instance for a ``grpc.RpcError``."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    return _BY_CODE.get(code, Error)(code, details)
