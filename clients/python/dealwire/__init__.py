"""Dealwire Python client: typed helpers over the generated dealwire.v1 stubs.

    import dealwire
    from dealwire import events as ev

    with dealwire.Client("127.0.0.1:50051") as client:
        print(client.stats().last_position)

Modules: ``dealwire.client`` (Client, AsOf), ``dealwire.events`` (event and
value builders), ``dealwire.errors`` (exceptions), ``dealwire.v1`` (the
generated *_pb2 / *_pb2_grpc modules, made at build time from proto/).
"""

from dealwire import events
from dealwire.client import DEFAULT_ADDRESS, AsOf, Client
from dealwire.errors import (AlreadyExists, Cancelled, Conflict, DeadlineExceeded, Error,
                             FailedPrecondition, InvalidArgument, NotFound, OutOfRange,
                             PermissionDenied, ResourceExhausted, Unauthenticated,
                             Unavailable)
from dealwire.events import effective, money, new_event_id
from dealwire.v1 import event_store_pb2, events_pb2, market_intel_pb2, types_pb2

Event = events_pb2.Event
CaughtUp = event_store_pb2.CaughtUp

__version__ = "0.1.0"

__all__ = [
    "Client", "AsOf", "DEFAULT_ADDRESS", "Event", "CaughtUp", "events",
    "money", "effective", "new_event_id",
    "Error", "Conflict", "InvalidArgument", "FailedPrecondition", "NotFound",
    "AlreadyExists", "Unavailable", "DeadlineExceeded", "ResourceExhausted",
    "OutOfRange", "Unauthenticated", "PermissionDenied", "Cancelled",
    "event_store_pb2", "events_pb2", "market_intel_pb2", "types_pb2",
]
