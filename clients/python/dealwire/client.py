"""A thin, idiomatic client for the Dealwire gRPC API (package dealwire.v1).

    import dealwire
    from dealwire import events as ev

    with dealwire.Client("127.0.0.1:50051", token=None) as client:
        deal = ev.investment("amazon-openai-2026", "amazon", "openai",
                             amount=ev.money("50B USD"), stage="in_talks",
                             effective=ev.effective("2026-01"), sources=["Reuters"])
        resp = client.append(deal.stream, [deal], expected_version="no_stream")
        table = client.cap_table("openai", include_pending=True,
                                 min_position=resp.last_position).cap_table
        for event in client.subscribe("deal-alerts", event_types=["InvestmentReported"]):
            ...

Every method raises a :class:`dealwire.Error` subclass on failure (see
dealwire.errors). The generated stubs stay reachable as ``client.event_store``,
``client.market_intel`` and ``client.admin`` for anything not wrapped here.

Thread-safety: a Client may be shared by threads (gRPC channels are); each
generator returned by ``subscribe`` / ``read_*`` belongs to one consumer.
"""

import dataclasses
import datetime as _dt
import logging
import os
import time

import grpc

from dealwire import errors
from dealwire import events as _events
from dealwire.v1 import admin_pb2, admin_pb2_grpc
from dealwire.v1 import event_store_pb2 as es
from dealwire.v1 import event_store_pb2_grpc
from dealwire.v1 import events_pb2
from dealwire.v1 import market_intel_pb2 as mi
from dealwire.v1 import market_intel_pb2_grpc
from dealwire.v1 import types_pb2

__all__ = ["Client", "AsOf", "DEFAULT_ADDRESS"]

DEFAULT_ADDRESS = "127.0.0.1:50051"
_log = logging.getLogger("dealwire")
_UNSET = object()


@dataclasses.dataclass(frozen=True)
class AsOf:
    """Which claims a query is folded from (dealwire.v1.AsOf); all optional.

    Attributes:
        known_at_position: only events at or before this log position count.
        known_at_time: only events recorded at or before this datetime
            (timezone-aware; naive means UTC).
        effective_on: only claims effective on or before this day
            ("2026-01-31", a datetime.date or a Date; a full date).
        min_confidence: leave out claims below it ("reported", ...).
    """

    known_at_position: int = None
    known_at_time: _dt.datetime = None
    effective_on: object = None
    min_confidence: object = None

    def to_proto(self):
        """Returns the dealwire.v1.AsOf message."""
        m = mi.AsOf()
        if self.known_at_position is not None and self.known_at_time is not None:
            raise ValueError("AsOf: known_at_position and known_at_time are exclusive")
        if self.known_at_position is not None:
            m.known_at_position = self.known_at_position
        if self.known_at_time is not None:
            t = self.known_at_time
            if t.tzinfo is None:
                t = t.replace(tzinfo=_dt.timezone.utc)
            m.known_at_time.FromDatetime(t.astimezone(_dt.timezone.utc).replace(tzinfo=None))
        if self.effective_on is not None:
            m.effective_on.CopyFrom(_events.date(self.effective_on))
        if self.min_confidence is not None:
            m.min_confidence = _events.enum_value(types_pb2.Confidence, self.min_confidence)
        return m


def _as_of(value):
    if value is None:
        return None
    if isinstance(value, mi.AsOf):
        return value
    if isinstance(value, AsOf):
        return value.to_proto()
    if isinstance(value, int):  # shorthand: a known-at position
        return AsOf(known_at_position=value).to_proto()
    raise TypeError(f"as_of: expected AsOf, dealwire.v1.AsOf or a position, got {value!r}")


def _set_filter(request, event_types, stream_prefixes, org_ids):
    """Sets request.filter from the lists (left unset when all are empty)."""
    if isinstance(event_types, str) or isinstance(stream_prefixes, str) or isinstance(org_ids, str):
        raise TypeError("filters take lists of strings, not a string")
    if event_types or stream_prefixes or org_ids:
        request.filter.CopyFrom(es.SubscriptionFilter(event_types=list(event_types),
                                                      stream_prefixes=list(stream_prefixes),
                                                      org_ids=list(org_ids)))


def _pin(request, as_of, min_position):
    """Sets a MarketIntel request's as_of and min_position; returns the request."""
    a = _as_of(as_of)
    if a is not None:
        request.as_of.CopyFrom(a)
    if min_position:
        request.min_position = min_position
    return request


def _expected_version(value):
    """Returns the ExpectedVersion message for None|int|"any"|"no_stream"|"exists"."""
    if value is None:
        return None
    if isinstance(value, es.ExpectedVersion):
        return value
    if isinstance(value, bool):
        raise TypeError("expected_version: a bool is not a version")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("expected_version: a version is >= 0")
        return es.ExpectedVersion(exact=value)
    states = {"any": es.EXPECTED_STATE_ANY, "no_stream": es.EXPECTED_STATE_NO_STREAM,
              "exists": es.EXPECTED_STATE_STREAM_EXISTS,
              "stream_exists": es.EXPECTED_STATE_STREAM_EXISTS}
    key = str(value).lower().replace("-", "_")
    if key not in states:
        raise ValueError(f"expected_version: {value!r} is not an int, "
                         "'any', 'no_stream' or 'exists'")
    return es.ExpectedVersion(state=states[key])


class Client:
    """A connection to one dealwired server.

    Args:
        address: "host:port"; default $DEALWIRE_SERVER or 127.0.0.1:50051.
        token: bearer token, sent as ``authorization: Bearer <token>``.
        timeout: default deadline in seconds of every unary call (queries
            with ``min_position`` wait within it); None for no deadline.
        credentials: ``grpc.ssl_channel_credentials(...)`` for TLS; plain
            text otherwise.
        options: extra gRPC channel options.
    """

    def __init__(self, address=None, token=None, timeout=10.0, *, credentials=None,
                 options=()):
        self.address = address or os.environ.get("DEALWIRE_SERVER") or DEFAULT_ADDRESS
        self.timeout = timeout
        # Reconnect quickly after a server restart (gRPC's default backoff
        # grows to two minutes).
        channel_options = [
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ] + list(options)
        if credentials is not None:
            self._channel = grpc.secure_channel(self.address, credentials, channel_options)
        else:
            self._channel = grpc.insecure_channel(self.address, channel_options)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.event_store = event_store_pb2_grpc.EventStoreStub(self._channel)
        self.market_intel = market_intel_pb2_grpc.MarketIntelStub(self._channel)
        self.admin = admin_pb2_grpc.AdminStub(self._channel)

    # -- lifecycle ---------------------------------------------------------

    def close(self):
        """Closes the channel; running calls end with CANCELLED."""
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def wait_ready(self, timeout=10.0):
        """Waits until the channel is connected; raises Unavailable otherwise."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise errors.Unavailable(grpc.StatusCode.UNAVAILABLE,
                                     f"no server at {self.address} after {timeout}s") from None

    def _unary(self, method, request, timeout=_UNSET):
        try:
            return method(request, timeout=self.timeout if timeout is _UNSET else timeout,
                          metadata=self._metadata)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e) from e
        except ValueError as e:
            if "closed channel" in str(e):  # Client.close() was called
                raise errors.Cancelled(grpc.StatusCode.CANCELLED, str(e)) from e
            raise

    def _pages(self, method, request, items, timeout=_UNSET):
        """Yields the ``items`` field of every page, following next_page_token."""
        while True:
            page = self._unary(method, request, timeout)
            yield from getattr(page, items)
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    # -- EventStore --------------------------------------------------------

    def append(self, stream, events, expected_version=None, *, timeout=_UNSET):
        """Appends events to one stream, atomically and durably.

        Args:
            stream: e.g. "deal/amazon-openai-2026".
            events: an Event or a list of them (see dealwire.events builders).
            expected_version: None or "any" (no check), "no_stream",
                "exists", or the exact version of the stream's last event.

        Returns the AppendResponse (first_position, last_position,
        next_expected_version, duplicate, ...). Re-sending the same event ids
        is an idempotent repeat: ``duplicate`` true, the original positions.

        Raises Conflict (ABORTED; nothing written) when expected_version does
        not hold, AlreadyExists, InvalidArgument, FailedPrecondition,
        ResourceExhausted, Unavailable (retry unchanged).
        """
        if isinstance(events, events_pb2.Event):
            events = [events]
        request = es.AppendRequest(stream=stream, events=list(events))
        expected = _expected_version(expected_version)
        if expected is not None:
            request.expected_version.CopyFrom(expected)
        return self._unary(self.event_store.Append, request, timeout)

    def read_stream(self, stream, from_version=None, *, backwards=False, page_size=0):
        """Yields one stream's events in version order, a page at a time.

        Raises NotFound when the stream has no event.
        """
        request = es.ReadStreamRequest(
            stream=stream, page_size=page_size,
            direction=es.DIRECTION_BACKWARDS if backwards else es.DIRECTION_FORWARDS)
        if from_version is not None:
            request.from_version = from_version
        yield from self._pages(self.event_store.ReadStream, request, "events")

    def read_all(self, from_position=None, *, backwards=False, event_types=(),
                 stream_prefixes=(), org_ids=(), page_size=0):
        """Yields the log's events in position order (optionally filtered).

        ``from_position`` is inclusive. Reads to the end of the log as of the
        last page.
        """
        request = es.ReadAllRequest(
            page_size=page_size,
            direction=es.DIRECTION_BACKWARDS if backwards else es.DIRECTION_FORWARDS)
        if from_position is not None:
            request.from_position = from_position
        _set_filter(request, event_types, stream_prefixes, org_ids)
        yield from self._pages(self.event_store.ReadAll, request, "events")

    def commit_checkpoint(self, name, position):
        """Stores a named subscription's checkpoint; returns the NamedSubscription."""
        request = es.CommitCheckpointRequest(subscription_name=name, position=position)
        return self._unary(self.event_store.CommitCheckpoint, request).subscription

    def subscriptions(self):
        """Yields the named subscriptions (NamedSubscription), ordered by name."""
        yield from self._pages(self.event_store.ListSubscriptions,
                               es.ListSubscriptionsRequest(), "subscriptions")

    def delete_subscription(self, name):
        """Deletes a named subscription (NotFound when there is none)."""
        self._unary(self.event_store.DeleteSubscription,
                    es.DeleteSubscriptionRequest(name=name))

    def subscribe(self, name=None, from_position=None, *, from_start=False, from_end=False,
                  event_types=(), stream_prefixes=(), org_ids=(), checkpoint_every=100,
                  commit_on_close=True, markers=False, max_batch_events=100,
                  reconnect=True, max_backoff=2.0, reconnect_timeout=60.0,
                  heartbeat_seconds=None):
        """Returns a generator of the log's events: catch-up, then live, for ever.

        Start: ``from_position`` delivers the events after that position;
        ``from_start`` everything; ``from_end`` only new events. With none of
        them, a named subscription resumes after its stored checkpoint (a new
        one starts from the beginning) and an anonymous one starts from the
        beginning.

        Named subscriptions (``name``) are durable: the generator commits the
        checkpoint (CommitCheckpoint) as it goes — after every
        ``checkpoint_every`` processed events, and when the server reports a
        checkpoint (every 1000 examined events, so sparse filters advance too)
        or that it has caught up — and when it ends. An event
        counts as processed once you ask for the next one; closing the
        generator (``gen.close()``, leaving a ``with closing(...)`` block,
        breaking out of a for loop that is then dropped) also counts the last
        event it yielded, unless ``commit_on_close`` is False. Delivery across
        runs is at-least-once: process idempotently, by event id.

        Filters (``event_types`` like "InvestmentReported", ``stream_prefixes``,
        ``org_ids``) combine with AND; a named subscription keeps the filter
        it was created with (FailedPrecondition if it differs).

        On UNAVAILABLE, a server-side CANCELLED or a dropped connection (e.g.
        a server restart) it reconnects with exponential
        backoff (0.1 s up to ``max_backoff``) and resumes right after the last
        event or checkpoint it delivered: no gap, no duplicate. It gives up
        with Unavailable after ``reconnect_timeout`` seconds without success
        (None: never); ``reconnect=False`` raises at once.

        With ``markers=True`` the generator also yields a dealwire.v1.CaughtUp
        message each time the subscription goes live.
        """
        if sum(bool(x) for x in (from_position is not None, from_start, from_end)) > 1:
            raise ValueError("subscribe: give at most one of from_position, from_start, from_end")
        if from_position is not None and (isinstance(from_position, bool) or from_position < 0):
            raise ValueError("subscribe: from_position is a log position >= 0")
        # The server's own checkpoint messages keep their default interval
        # (every 1000 examined events): each one may cost a CommitCheckpoint.
        request = es.SubscribeRequest(subscription_name=name or "",
                                      max_batch_events=max_batch_events)
        _set_filter(request, event_types, stream_prefixes, org_ids)
        if heartbeat_seconds is not None:
            request.heartbeat_interval.FromTimedelta(_dt.timedelta(seconds=heartbeat_seconds))
        if from_position is not None:
            request.after_position = from_position
        elif from_start or (not from_end and not name):
            request.from_start = True
        elif from_end:
            request.from_end = True
        return self._subscription(request, name, checkpoint_every, commit_on_close, markers,
                                  reconnect, max_backoff, reconnect_timeout)

    def _subscription(self, request, name, checkpoint_every, commit_on_close, markers,
                      reconnect, max_backoff, reconnect_timeout):
        delivered = None      # every matching event <= this was yielded and processed
        yielded = None        # position of the last event yielded
        committed = None      # last checkpoint committed by this generator
        uncommitted = 0       # events processed since the last commit
        closing = False
        backoff = 0.1
        failing_since = None

        def commit(position):
            nonlocal committed, uncommitted
            if not name or position is None or position == committed:
                return
            # Counted as attempted either way: a failing server is not asked
            # again for every further event.
            uncommitted = 0
            try:
                self.commit_checkpoint(name, position)
                committed = position
            except (errors.Unavailable, errors.DeadlineExceeded, errors.Cancelled) as e:
                # Transient (e.g. the server is restarting): the next commit,
                # or the one on close, carries this position too.
                _log.info("dealwire: checkpoint %s of %s not committed yet: %s",
                          position, name, e)

        try:
            while True:
                if delivered is not None:  # a resume: right after what we delivered
                    request.after_position = delivered
                try:
                    call = self.event_store.Subscribe(request, metadata=self._metadata)
                except ValueError as e:  # "Cannot invoke RPC on closed channel!"
                    raise errors.Cancelled(grpc.StatusCode.CANCELLED, str(e)) from e
                try:
                    for message in call:
                        failing_since, backoff = None, 0.1
                        kind = message.WhichOneof("message")
                        if kind == "event" or kind == "events":
                            batch = [message.event] if kind == "event" else message.events.events
                            for event in batch:
                                if delivered is not None and event.position <= delivered:
                                    continue  # never a duplicate, whatever the server does
                                yielded = event.position
                                yield event
                                delivered = event.position
                                uncommitted += 1
                                if checkpoint_every and uncommitted >= checkpoint_every:
                                    commit(delivered)
                        elif kind in ("caught_up", "checkpoint", "fell_behind"):
                            position = getattr(message, kind).position
                            if delivered is None or position > delivered:
                                delivered = position
                            if kind != "fell_behind":
                                commit(delivered)
                            if markers and kind == "caught_up":
                                yield message.caught_up
                    # The server ended the call without a status: treat as a drop.
                    error = errors.Unavailable(grpc.StatusCode.UNAVAILABLE,
                                               "subscription ended by the server")
                except grpc.RpcError as e:
                    error = errors.from_rpc_error(e)
                    # A server shutting down ends calls with UNAVAILABLE or, when
                    # it cancels them, CANCELLED; closing our own channel is
                    # CANCELLED too, and is caught when resubscribing.
                    if not reconnect or not isinstance(error, (errors.Unavailable,
                                                               errors.Cancelled)):
                        raise error from e
                finally:
                    call.cancel()
                if not reconnect:
                    raise error
                now = time.monotonic()
                failing_since = failing_since or now
                if reconnect_timeout is not None and now - failing_since >= reconnect_timeout:
                    raise error
                _log.info("dealwire: subscription dropped (%s); resuming after %s in %.1fs",
                          error, delivered, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)
        except GeneratorExit:
            closing = True
            raise
        finally:
            # Best effort: never mask the exception that ends the generator.
            final = delivered
            if closing and commit_on_close and yielded is not None:
                final = max(yielded, delivered or 0)
            if not closing or commit_on_close:
                try:
                    commit(final)
                except errors.Error as e:
                    _log.warning("dealwire: final checkpoint %s of %s not committed: %s",
                                 final, name, e)

    # -- MarketIntel -------------------------------------------------------

    def _query(self, method, request, as_of, min_position, timeout):
        return self._unary(method, _pin(request, as_of, min_position), timeout)

    def _paged(self, method, request, items, as_of, min_position, timeout):
        # The first page's token pins the position: one consistent listing.
        yield from self._pages(method, _pin(request, as_of, min_position), items, timeout)

    def organization(self, org_id, *, as_of=None, min_position=0, timeout=_UNSET):
        """Returns GetOrganizationResponse (.organization, .as_of_position)."""
        return self._query(self.market_intel.GetOrganization,
                           mi.GetOrganizationRequest(org_id=org_id), as_of, min_position, timeout)

    def organizations(self, name_prefix="", *, kind=None, sector="", as_of=None,
                      min_position=0, page_size=0, timeout=_UNSET):
        """Yields Organization messages whose name or alias starts with the prefix."""
        request = mi.ListOrganizationsRequest(name_prefix=name_prefix, sector=sector,
                                              page_size=page_size)
        if kind is not None:
            request.kind = _events.enum_value(events_pb2.OrganizationKind, kind)
        return self._paged(self.market_intel.ListOrganizations, request, "organizations",
                           as_of, min_position, timeout)

    def cap_table(self, company, include_pending=False, *, as_of=None, min_position=0,
                  timeout=_UNSET):
        """Returns GetCapTableResponse (.cap_table.holders, .as_of_position).

        ``include_pending`` adds deals not yet closed (pro forma). Raises
        NotFound for an unknown company.
        """
        request = mi.GetCapTableRequest(company_id=company, include_pending=include_pending)
        return self._query(self.market_intel.GetCapTable, request, as_of, min_position, timeout)

    def portfolio(self, investor, include_pending=False, *, direct_only=False, as_of=None,
                  min_position=0, timeout=_UNSET):
        """Returns GetPortfolioResponse (.holdings, .total_committed, ...)."""
        request = mi.GetPortfolioRequest(investor_id=investor, include_pending=include_pending,
                                         direct_only=direct_only)
        return self._query(self.market_intel.GetPortfolio, request, as_of, min_position, timeout)

    def timeline(self, org_id, *, event_types=(), descending=False, as_of=None,
                 min_position=0, page_size=0, timeout=_UNSET):
        """Yields the TimelineEntry messages of an organization, by effective date."""
        request = mi.GetTimelineRequest(org_id=org_id, event_types=list(event_types),
                                        descending=descending, page_size=page_size)
        return self._paged(self.market_intel.GetTimeline, request, "entries",
                           as_of, min_position, timeout)

    def valuations(self, company, *, as_of=None, min_position=0, timeout=_UNSET):
        """Returns GetValuationHistoryResponse (.points by effective date)."""
        return self._query(self.market_intel.GetValuationHistory,
                           mi.GetValuationHistoryRequest(company_id=company),
                           as_of, min_position, timeout)

    def deal(self, deal_id, *, as_of=None, min_position=0, timeout=_UNSET):
        """Returns GetDealResponse (.deal with its stage history)."""
        return self._query(self.market_intel.GetDeal, mi.GetDealRequest(deal_id=deal_id),
                           as_of, min_position, timeout)

    def deals(self, *, company="", investor="", stage=None, kind=None, overdue_only=False,
              as_of=None, min_position=0, page_size=0, timeout=_UNSET):
        """Yields Deal messages by company, investor, stage, kind or overdue state."""
        request = mi.ListDealsRequest(company_id=company, investor_id=investor,
                                      overdue_only=overdue_only, page_size=page_size)
        if stage is not None:
            request.stage = _events.enum_value(events_pb2.DealStage, stage)
        if kind is not None:
            request.kind = _events.enum_value(mi.DealKind, kind)
        return self._paged(self.market_intel.ListDeals, request, "deals",
                           as_of, min_position, timeout)

    def partners(self, org_id, *, direct_only=False, include_ended=False, as_of=None,
                 min_position=0, timeout=_UNSET):
        """Returns ListPartnershipsResponse (.partnerships around an organization)."""
        request = mi.ListPartnershipsRequest(org_id=org_id, direct_only=direct_only,
                                             include_ended=include_ended)
        return self._query(self.market_intel.ListPartnerships, request, as_of, min_position,
                           timeout)

    def exposure(self, org_id, *, closed_only=False, as_of=None, min_position=0,
                 timeout=_UNSET):
        """Returns GetExposureResponse (.exposures by sector)."""
        request = mi.GetExposureRequest(org_id=org_id, closed_only=closed_only)
        return self._query(self.market_intel.GetExposure, request, as_of, min_position, timeout)

    def summary(self, *, from_quarter=None, to_quarter=None, sector="", kind=None,
                exclude_collapsed=False, largest=0, as_of=None, min_position=0,
                timeout=_UNSET):
        """Returns GetMarketSummaryResponse (.buckets, .largest_deals).

        Quarters are "2025-Q1" strings (or EffectiveDate messages).
        """
        request = mi.GetMarketSummaryRequest(sector=sector, exclude_collapsed=exclude_collapsed,
                                             largest_deals_limit=largest)
        if from_quarter is not None:
            request.from_quarter.CopyFrom(_events.effective(from_quarter))
        if to_quarter is not None:
            request.to_quarter.CopyFrom(_events.effective(to_quarter))
        if kind is not None:
            request.kind = _events.enum_value(mi.DealKind, kind)
        return self._query(self.market_intel.GetMarketSummary, request, as_of, min_position,
                           timeout)

    # -- Admin -------------------------------------------------------------

    def stats(self, include_digest=False, *, timeout=_UNSET):
        """Returns GetStatsResponse (last_position, projection_position, counts)."""
        return self._unary(self.admin.GetStats,
                           admin_pb2.GetStatsRequest(include_digest=include_digest), timeout)
