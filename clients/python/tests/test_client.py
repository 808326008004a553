"""The Python client against a real dealwired: appends, queries, subscriptions."""

import queue
import threading
import time

import grpc
import pytest

import dealwire
from dealwire import events as ev
from dealwire.v1 import types_pb2


def org(org_id, **kw):
    kw.setdefault("founded", "2015")
    kw.setdefault("confidence", "official")
    kw.setdefault("sources", [ev.source("Test", "https://example.com/" + org_id)])
    return ev.organization(org_id, org_id.title(), **kw)


def positions(events):
    return [e.position for e in events]


# -- appends ----------------------------------------------------------------


def test_append_with_expected_version_and_conflict(client):
    first = org("acme")
    resp = client.append(first.stream, [first], expected_version="no_stream")
    assert (resp.first_position, resp.next_expected_version, resp.duplicate) == (1, 0, False)

    # The stream exists now: NO_STREAM is a conflict, and nothing is written.
    again = org("acme-two", stream="org/acme")
    with pytest.raises(dealwire.Conflict) as info:
        client.append("org/acme", [again], expected_version="no_stream")
    assert isinstance(info.value, dealwire.Error)
    assert info.value.code == grpc.StatusCode.ABORTED
    assert info.value.actual_version == 0
    assert client.stats().last_position == 1
    assert positions(client.read_stream("org/acme")) == [1]

    # The exact version holds: written.
    resp = client.append("org/acme", [again], expected_version=0)
    assert (resp.first_position, resp.first_stream_version, resp.next_expected_version) == (2, 1, 1)

    # A stale exact version: conflict naming the actual version; nothing written.
    stale = org("acme-three", stream="org/acme")
    with pytest.raises(dealwire.Conflict) as info:
        client.append("org/acme", [stale], expected_version=0)
    assert info.value.actual_version == 1
    with pytest.raises(dealwire.Conflict) as info:
        client.append("org/none", [org("none")], expected_version="exists")
    assert info.value.stream_exists is False
    assert positions(client.read_all()) == [1, 2]


def test_reappend_same_event_id_is_a_duplicate(client):
    event = org("acme")
    first = client.append(event.stream, [event])
    client.append("org/other", [org("other")])
    again = client.append(event.stream, [event], expected_version="no_stream")
    assert again.duplicate is True
    assert (again.first_position, again.last_position) == (first.first_position,
                                                            first.last_position)
    assert client.stats().last_position == 2

    # The same id with other content is refused.
    changed = org("acme-changed", stream="org/acme", event_id=event.event_id)
    with pytest.raises(dealwire.AlreadyExists):
        client.append("org/acme", [changed])


def test_errors_map_to_exceptions(client):
    bad = org("acme", event_id="not-a-uuid")
    with pytest.raises(dealwire.InvalidArgument) as info:
        client.append(bad.stream, [bad])
    assert "events[0].event_id" in info.value.message
    with pytest.raises(dealwire.NotFound):
        list(client.read_stream("org/nobody"))
    with pytest.raises(dealwire.NotFound):
        client.cap_table("nobody")
    deal = ev.investment("x-y", "x", "y", stage="rumored", effective="2026-01",
                         sources=["Test"])
    with pytest.raises(dealwire.FailedPrecondition):
        client.append(deal.stream, [deal])
    with pytest.raises(ValueError):
        ev.money(1.5, "USD")


def test_unavailable_when_no_server():
    with dealwire.Client("127.0.0.1:1", timeout=2.0) as c:
        with pytest.raises(dealwire.Unavailable):
            c.stats()


def test_money_and_dates():
    assert ev.money("50B USD") == ev.Money(currency_code="USD", units=50_000_000_000)
    assert ev.money(50_000_000_000, "usd") == ev.money("$50B")
    assert ev.money("EUR 1.25") == ev.Money(currency_code="EUR", units=1, nanos=250_000_000)
    assert ev.money_str(ev.money("6.6B USD")) == "6600000000 USD"
    assert ev.effective("2026-Q1").date.month == 1
    assert ev.effective("2026-01").precision == types_pb2.DATE_PRECISION_MONTH
    assert ev.effective("2026-01-31").precision == types_pb2.DATE_PRECISION_DAY


# -- queries ----------------------------------------------------------------


def holders(response):
    return {h.org_id for h in response.cap_table.holders}


def test_seed_cap_table(client, seeded):
    last = seeded[-1][1].last_position
    table = client.cap_table("openai", min_position=last)
    assert table.cap_table.company_name == "OpenAI"
    assert "microsoft" in holders(table)
    assert "amazon" not in holders(table)  # only in talks
    pending = client.cap_table("openai", include_pending=True, min_position=last)
    assert {"microsoft", "amazon"} <= holders(pending)

    assert client.organization("aws").organization.parent_org_id == "amazon"
    deal_ids = {d.deal_id for d in client.deals(company="openai", page_size=2)}
    assert "amazon-openai-2026" in deal_ids  # paged through
    assert client.deal("amazon-openai-2026").deal.investor_id == "amazon"
    assert any(e.event_type == "InvestmentReported" for e in client.timeline("openai"))
    assert client.valuations("openai").points
    assert client.portfolio("amazon", include_pending=True).holdings
    assert client.partners("anthropic").partnerships
    assert client.exposure("amazon").exposures
    assert client.summary(largest=3).largest_deals
    assert client.stats().last_position == last


def test_as_of_known_at_position(client, seeded):
    amazon = next(resp for event, resp in seeded
                  if event.payload.investment_reported.investment_id == "amazon-openai-2026")
    before = client.cap_table("openai", include_pending=True,
                              as_of=dealwire.AsOf(known_at_position=amazon.first_position - 1))
    assert before.as_of_position == amazon.first_position - 1
    assert "amazon" not in holders(before)
    at = client.cap_table("openai", include_pending=True,
                          as_of=dealwire.AsOf(known_at_position=amazon.first_position))
    assert "amazon" in holders(at)
    # effective_on before 2023: Microsoft's 2023 investment had not happened.
    early = client.cap_table("openai", as_of=dealwire.AsOf(effective_on="2022-12-31"))
    assert "microsoft" not in holders(early)


# -- subscriptions ----------------------------------------------------------


def next_event(gen):
    item = next(gen)
    while isinstance(item, dealwire.CaughtUp):
        item = next(gen)
    return item


def until_caught_up(gen):
    got = []
    for item in gen:
        if isinstance(item, dealwire.CaughtUp):
            return got, item
        got.append(item)
    raise AssertionError("subscription ended")


def subscription(client, name):
    return next((s for s in client.subscriptions() if s.name == name), None)


def test_named_subscription_catches_up_goes_live_and_resumes(client, seeded):
    last = seeded[-1][1].last_position
    sub = client.subscribe("py-test", markers=True, checkpoint_every=10)
    backlog, caught_up = until_caught_up(sub)
    assert positions(backlog) == list(range(1, last + 1))
    assert caught_up.position == last

    # Live: events appended while it runs arrive, in order.
    live = [org(f"live-{i}") for i in range(3)]
    for e in live:
        client.append(e.stream, [e])
    got = [next_event(sub) for _ in live]
    assert [e.event_id for e in got] == [e.event_id for e in live]
    assert positions(got) == [last + 1, last + 2, last + 3]

    # Interrupted: closing commits the checkpoint of the last event yielded.
    sub.close()
    assert subscription(client, "py-test").checkpoint_position == last + 3

    # Meanwhile more events; resuming by name delivers exactly those.
    later = [org(f"later-{i}") for i in range(2)]
    for e in later:
        client.append(e.stream, [e])
    resumed = client.subscribe("py-test", markers=True)
    got, caught_up = until_caught_up(resumed)
    resumed.close()
    assert [e.event_id for e in got] == [e.event_id for e in later]
    assert positions(got) == [last + 4, last + 5]
    assert subscription(client, "py-test").checkpoint_position == last + 5


def test_filtered_subscription_from_position(client, seeded):
    deal_types = ["InvestmentReported", "FundingRoundReported", "AcquisitionReported",
                  "DealStageChanged"]
    sub = client.subscribe(from_position=20, event_types=deal_types, markers=True)
    got, _ = until_caught_up(sub)
    sub.close()
    expected = [r.first_position for e, r in seeded
                if r.first_position > 20 and ev.event_type(e) in deal_types]
    assert positions(got) == expected


def test_subscription_reconnects_across_server_restart(server, source_dir):
    """The server stops and starts again on the same data dir and port: the
    subscription resumes after the last delivered position (no gap, no dup)."""
    received = queue.Queue()
    consumer = dealwire.Client(server.address)
    writer = dealwire.Client(server.address)
    first = [org(f"before-{i}") for i in range(5)]
    for e in first:
        writer.append(e.stream, [e])

    def consume():
        try:
            for event in consumer.subscribe("restart-test", max_backoff=0.5,
                                            reconnect_timeout=30):
                received.put(event)
        except dealwire.Error as e:  # Cancelled when the test closes the channel
            received.put(e)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    def take(n, timeout):
        items = [received.get(timeout=timeout) for _ in range(n)]
        assert all(isinstance(e, dealwire.Event) for e in items), items
        return items

    got = take(len(first), 15)

    port = server.port
    assert server.stop() == 0
    server.start(port=port)
    writer.close()
    writer = dealwire.Client(server.address)
    second = [org(f"after-{i}") for i in range(5)]
    for e in second:
        # A new channel to the restarted server's address may first see the
        # connection refused while the old one was down (gRPC's shared
        # subchannel backs off): UNAVAILABLE is retried, bounded; the event
        # id makes the retry idempotent.
        deadline = time.monotonic() + 20
        while True:
            try:
                writer.append(e.stream, [e])
                break
            except dealwire.Unavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    got += take(len(second), 20)

    consumer.close()
    thread.join(timeout=10)
    assert not thread.is_alive(), "closing the channel did not end the subscription"
    writer.close()
    assert positions(got) == list(range(1, 11))
    assert [e.event_id for e in got] == [e.event_id for e in first + second]
    # Nothing else arrived: no duplicates after the restart.
    leftovers = []
    while not received.empty():
        leftovers.append(received.get())
    assert all(not isinstance(e, dealwire.Event) for e in leftovers), leftovers
