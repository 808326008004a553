"""Builders for Dealwire events and the value types they carry.

Every builder returns a generated ``dealwire.v1`` message, so anything the
builders do not cover can be set on the result directly::

    from dealwire import events as ev

    deal = ev.investment(
        "amazon-openai-2026", investor="amazon", company="openai",
        amount=ev.money("50B USD"), amount_bound="up_to",
        stage="in_talks", instrument="equity",
        effective=ev.effective("2026-01"), confidence="reported",
        sources=[ev.source("Reuters", "https://www.reuters.com/...")])
    client.append(deal.stream, [deal])      # stream "deal/amazon-openai-2026"

Enum arguments take the short, case-insensitive name ("in_talks",
"reported", "equity", "company"), the full proto name
("DEAL_STAGE_IN_TALKS") or the number. Money is never a float: ``money``
accepts ints, Decimals and strings ("50B USD", "$1.25M", "EUR 3.5"), and
refuses floats. Every event gets a fresh uuid4 ``event_id`` unless one is
given; keep it to retry idempotently.
"""

import datetime as _dt
import decimal
import re
import uuid

from dealwire.v1 import events_pb2, types_pb2

Event = events_pb2.Event
EventPayload = events_pb2.EventPayload
Money = types_pb2.Money
Date = types_pb2.Date
EffectiveDate = types_pb2.EffectiveDate
Source = types_pb2.Source

__all__ = [
    "new_event_id", "money", "money_str", "date", "effective", "source", "enum_value",
    "event", "event_type", "organization", "funding_round", "investment",
    "deal_stage", "valuation", "stake", "acquisition", "partnership",
    "partnership_ended", "facility", "retraction",
    "Event", "EventPayload", "Money", "Date", "EffectiveDate", "Source",
]

_SCALE = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "BN": 10**9, "T": 10**12}
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_NANOS = 10**9


def new_event_id():
    """Returns a new event id: a random (version 4) UUID, canonical lower case."""
    return str(uuid.uuid4())


def money(amount, currency=None):
    """Returns a ``Money`` (exact: units + nanos, never a float).

    Examples: ``money(50_000_000_000, "USD")``, ``money("50B USD")``,
    ``money("USD 6.6B")``, ``money("$1.25M")``, ``money(Decimal("1.25"), "EUR")``.
    Suffixes K, M, B (or BN) and T scale the number. Raises ValueError for a
    float, a malformed string or a missing currency.
    """
    if isinstance(amount, Money):
        return amount
    if isinstance(amount, float):
        raise ValueError("money: floats are not exact; pass an int, a Decimal or a string")
    if isinstance(amount, str):
        text = amount.strip().replace(",", "").replace("_", "")
        match = re.fullmatch(
            r"(?:([A-Za-z]{3})\s*)?([$€£¥])?\s*(-?\d+(?:\.\d+)?)\s*([KMBT]|BN)?\s*([A-Za-z]{3})?",
            text, flags=re.IGNORECASE)
        if not match:
            raise ValueError(f"money: cannot parse {amount!r} (try '50B USD')")
        code_before, symbol, number, suffix, code_after = match.groups()
        code = code_before or code_after or _SYMBOLS.get(symbol or "") or currency
        value = decimal.Decimal(number) * _SCALE[(suffix or "").upper()]
    else:
        code = currency
        value = decimal.Decimal(amount)
    if not code:
        raise ValueError(f"money: no currency for {amount!r}")
    total_nanos = value * _NANOS
    if total_nanos != total_nanos.to_integral_value():
        raise ValueError(f"money: {amount!r} is finer than a nano")
    total_nanos = int(total_nanos)
    units = abs(total_nanos) // _NANOS
    nanos = abs(total_nanos) % _NANOS
    sign = -1 if total_nanos < 0 else 1
    return Money(currency_code=code.upper(), units=sign * units, nanos=sign * nanos)


def money_str(m):
    """Returns a Money as exact text, e.g. ``"50000000000 USD"``, ``"1.25 EUR"``."""
    value = decimal.Decimal(m.units) + decimal.Decimal(m.nanos) / _NANOS
    text = format(value.normalize(), "f") if m.nanos else str(m.units)
    return f"{text} {m.currency_code}"


def date(value):
    """Returns a ``Date`` from "2026-01-31", "2026-01", "2026", a datetime.date or a Date."""
    if isinstance(value, Date):
        return value
    if isinstance(value, (_dt.date, _dt.datetime)):
        return Date(year=value.year, month=value.month, day=value.day)
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", str(value).strip())
    if not match:
        raise ValueError(f"date: cannot parse {value!r} (try '2026-01-31')")
    year, month, day = (int(g) if g else 0 for g in match.groups())
    return Date(year=year, month=month, day=day)


def effective(value, precision=None):
    """Returns an ``EffectiveDate``; the precision follows from the text.

    "2026-01-31" is DAY, "2026-01" MONTH, "2026-Q1" QUARTER, "2026" YEAR; a
    datetime.date is DAY. ``precision`` ("day", "month", "quarter", "year")
    overrides it.
    """
    if isinstance(value, EffectiveDate):
        return value
    text = value if isinstance(value, str) else None
    if text is not None:
        quarter = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", text.strip())
        if quarter:
            year, q = int(quarter.group(1)), int(quarter.group(2))
            return EffectiveDate(date=Date(year=year, month=3 * q - 2),
                                 precision=types_pb2.DATE_PRECISION_QUARTER)
    d = date(value)
    if precision is None:
        precision = "day" if d.day else "month" if d.month else "year"
    return EffectiveDate(date=d, precision=enum_value(types_pb2.DatePrecision, precision))


def source(publisher, url="", title="", published=None):
    """Returns a ``Source``; ``published`` is anything ``date`` accepts."""
    s = Source(publisher=publisher, url=url, title=title)
    if published is not None:
        s.published_date.CopyFrom(date(published))
    return s


def enum_value(enum_type, value):
    """Returns the number of an enum value given as short name, full name or number.

    ``enum_value(events_pb2.DealStage, "in_talks") == DEAL_STAGE_IN_TALKS``.
    Raises ValueError naming the accepted values otherwise.
    """
    if isinstance(value, int):
        return value
    names = enum_type.keys()
    wanted = str(value).strip().upper().replace("-", "_").replace(" ", "_")
    prefix = names[0][: -len("UNSPECIFIED")]  # e.g. "DEAL_STAGE_"
    for candidate in (wanted, prefix + wanted):
        if candidate in names:
            return enum_type.Value(candidate)
    short = [n[len(prefix):].lower() for n in names[1:]]
    raise ValueError(f"{value!r} is not one of {', '.join(short)}")


def event(payload, *, stream="", effective=None, confidence="reported",
          sources=(), event_id=None):
    """Returns an ``Event`` around ``payload`` (any payload message of events.proto).

    ``effective`` is required by the server (anything ``effective()`` takes);
    ``sources`` holds ``Source`` messages or publisher names.
    """
    e = Event(event_id=event_id or new_event_id(), stream=stream,
              confidence=enum_value(types_pb2.Confidence, confidence))
    if effective is not None:
        e.effective.CopyFrom(_effective(effective))
    for s in sources:
        e.sources.append(source(s) if isinstance(s, str) else s)
    field = _PAYLOAD_FIELDS[payload.DESCRIPTOR.name]
    getattr(e.payload, field).CopyFrom(payload)
    return e


def event_type(e):
    """Returns an event's type, e.g. "InvestmentReported" (as used in filters)."""
    field = e.payload.WhichOneof("payload")
    if field is None:
        return ""
    return EventPayload.DESCRIPTOR.fields_by_name[field].message_type.name


_effective = effective  # `effective` is shadowed by keyword arguments below
_PAYLOAD_FIELDS = {f.message_type.name: f.name for f in EventPayload.DESCRIPTOR.fields}


def _set_money(message, field, value, bound=None):
    """Sets a Money field and, when given, its ``<field>_bound`` AmountBound."""
    if value is not None:
        getattr(message, field).CopyFrom(money(value))
    if bound is not None:
        setattr(message, f"{field}_bound", enum_value(types_pb2.AmountBound, bound))


def _set_effective(message, field, value):
    if value is not None:
        getattr(message, field).CopyFrom(_effective(value))


def organization(org_id, name, kind="company", *, parent=None, sectors=(),
                 aliases=(), founded=None, description="", website="", **envelope):
    """Returns an OrganizationRegistered event on stream ``org/<org_id>``."""
    p = events_pb2.OrganizationRegistered(
        org_id=org_id, name=name, kind=enum_value(events_pb2.OrganizationKind, kind),
        parent_org_id=parent or "", sectors=list(sectors), aliases=list(aliases),
        description=description, website=website)
    _set_effective(p, "founded", founded)
    envelope.setdefault("effective", founded)
    return event(p, stream=envelope.pop("stream", f"org/{org_id}"), **envelope)


def funding_round(round_id, company, label, *, stage="rumored", target=None,
                  target_bound=None, pre_money=None, post_money=None,
                  expected_close=None, leads=(), **envelope):
    """Returns a FundingRoundReported event on stream ``deal/<round_id>``."""
    p = events_pb2.FundingRoundReported(
        round_id=round_id, company_id=company, label=label,
        stage=enum_value(events_pb2.DealStage, stage), lead_investor_ids=list(leads))
    _set_money(p, "target_amount", target, target_bound)
    _set_money(p, "pre_money_valuation", pre_money)
    _set_money(p, "post_money_valuation", post_money)
    _set_effective(p, "expected_close", expected_close)
    return event(p, stream=envelope.pop("stream", f"deal/{round_id}"), **envelope)


def investment(investment_id, investor, company, *, amount=None, amount_bound=None,
               stage="rumored", instrument="equity", round_id="",
               expected_close=None, **envelope):
    """Returns an InvestmentReported event on stream ``deal/<investment_id>``."""
    p = events_pb2.InvestmentReported(
        investment_id=investment_id, investor_id=investor, company_id=company,
        round_id=round_id, stage=enum_value(events_pb2.DealStage, stage),
        instrument=enum_value(events_pb2.Instrument, instrument))
    _set_money(p, "amount", amount, amount_bound)
    _set_effective(p, "expected_close", expected_close)
    return event(p, stream=envelope.pop("stream", f"deal/{investment_id}"), **envelope)


def deal_stage(deal_id, new_stage, *, amount=None, amount_bound=None, reason="",
               expected_close=None, **envelope):
    """Returns a DealStageChanged event on stream ``deal/<deal_id>``."""
    p = events_pb2.DealStageChanged(
        deal_id=deal_id, new_stage=enum_value(events_pb2.DealStage, new_stage),
        reason=reason)
    _set_money(p, "amount", amount, amount_bound)
    _set_effective(p, "expected_close", expected_close)
    return event(p, stream=envelope.pop("stream", f"deal/{deal_id}"), **envelope)


def valuation(company, value, *, basis="estimate", round_id="", bound=None, **envelope):
    """Returns a ValuationReported event on stream ``org/<company>``."""
    p = events_pb2.ValuationReported(
        company_id=company, basis=enum_value(events_pb2.ValuationBasis, basis),
        round_id=round_id)
    _set_money(p, "valuation", value, bound)
    return event(p, stream=envelope.pop("stream", f"org/{company}"), **envelope)


def stake(holder, company, *, ppm=None, ppm_range=None, qualifier="", **envelope):
    """Returns a StakeDisclosed event on stream ``org/<company>``.

    ``ppm`` is an exact fraction in parts per million (270_000 = 27 %),
    ``ppm_range`` a (min, max) pair, ``qualifier`` the source's words.
    """
    p = events_pb2.StakeDisclosed(holder_id=holder, company_id=company)
    p.ownership.qualifier = qualifier
    if ppm is not None:
        p.ownership.exact.parts_per_million = ppm
    if ppm_range is not None:
        p.ownership.range.min_parts_per_million = ppm_range[0]
        p.ownership.range.max_parts_per_million = ppm_range[1]
    return event(p, stream=envelope.pop("stream", f"org/{company}"), **envelope)


def acquisition(acquisition_id, acquirer, target, *, price=None, price_bound=None,
                stage="rumored", expected_close=None, **envelope):
    """Returns an AcquisitionReported event on stream ``deal/<acquisition_id>``."""
    p = events_pb2.AcquisitionReported(
        acquisition_id=acquisition_id, acquirer_id=acquirer, target_id=target,
        stage=enum_value(events_pb2.DealStage, stage))
    _set_money(p, "price", price, price_bound)
    _set_effective(p, "expected_close", expected_close)
    return event(p, stream=envelope.pop("stream", f"deal/{acquisition_id}"), **envelope)


def partnership(partnership_id, parties, *, exclusive=False, primary=False,
                value=None, description="", **envelope):
    """Returns a PartnershipFormed event on stream ``partnership/<id>``.

    ``parties`` is a list of (org_id, role) pairs, e.g.
    ``[("aws", "cloud_provider"), ("anthropic", "customer")]``.
    """
    p = events_pb2.PartnershipFormed(
        partnership_id=partnership_id, exclusive=exclusive, primary=primary,
        description=description)
    for org_id, role in parties:
        p.parties.add(org_id=org_id, role=enum_value(events_pb2.PartnershipRole, role))
    _set_money(p, "value", value)
    return event(p, stream=envelope.pop("stream", f"partnership/{partnership_id}"),
                 **envelope)


def partnership_ended(partnership_id, reason="", **envelope):
    """Returns a PartnershipEnded event on stream ``partnership/<id>``."""
    p = events_pb2.PartnershipEnded(partnership_id=partnership_id, reason=reason)
    return event(p, stream=envelope.pop("stream", f"partnership/{partnership_id}"),
                 **envelope)


def facility(facility_id, owner, beneficiary="", *, location="", amount=None,
             purpose="", expected_completion=None, **envelope):
    """Returns a FacilityAnnounced event on stream ``facility/<facility_id>``."""
    p = events_pb2.FacilityAnnounced(
        facility_id=facility_id, owner_id=owner, beneficiary_id=beneficiary,
        location=location, purpose=purpose)
    _set_money(p, "amount", amount)
    _set_effective(p, "expected_completion", expected_completion)
    return event(p, stream=envelope.pop("stream", f"facility/{facility_id}"), **envelope)


def retraction(stream, retracted_event_id, reason, **envelope):
    """Returns an EventRetracted event (append it to ``stream``)."""
    p = events_pb2.EventRetracted(event_id=retracted_event_id, reason=reason)
    return event(p, stream=stream, **envelope)
