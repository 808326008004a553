#!/usr/bin/python3
"""Records a deal in Dealwire and prints its log position.

    /usr/bin/python3 clients/python/examples/record_deal.py \
        --investor amazon --company openai --amount "50B USD" --stage in_talks \
        --event-id 0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a

Re-running with the same --event-id is an idempotent repeat: nothing is
written and the original position is printed ("duplicate"). Organizations
that are not registered yet are registered first, with event ids derived from
their org id, so those registrations are idempotent too.
"""

import argparse
import os
import sys
import uuid

import _dealwire_path  # noqa: F401  (finds the built package)
import dealwire
from dealwire import events as ev

# Event ids of the organization registrations: uuid5 of the org id in this
# namespace, so every run registers an organization with the same id.
ORG_NAMESPACE = uuid.UUID("4c1d6c0e-2f0b-4c55-9d38-6a3f5d2b7e10")


def ensure_organization(client, org_id):
    try:
        client.organization(org_id)
        return
    except dealwire.NotFound:
        pass
    event = ev.organization(org_id, org_id.replace("-", " ").title(),
                            founded="2000", confidence="reported", sources=["record_deal.py"],
                            event_id=str(uuid.uuid5(ORG_NAMESPACE, org_id)))
    resp = client.append(event.stream, [event])
    print(f"registered {org_id} at position {resp.first_position}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default=os.environ.get("DEALWIRE_SERVER", "127.0.0.1:50051"))
    parser.add_argument("--token", default=os.environ.get("DEALWIRE_TOKEN"))
    parser.add_argument("--investor", default="amazon")
    parser.add_argument("--company", default="openai")
    parser.add_argument("--deal-id", help="default: <investor>-<company>-<year>")
    parser.add_argument("--amount", default="50B USD", help='e.g. "50B USD"')
    parser.add_argument("--stage", default="in_talks",
                        help="rumored, in_talks, agreed, announced, closed")
    parser.add_argument("--effective", default="2026-01", help="2026-01-31, 2026-01, 2026-Q1, 2026")
    parser.add_argument("--confidence", default="reported")
    parser.add_argument("--source", default="Reuters")
    parser.add_argument("--url", default="")
    parser.add_argument("--event-id", help="reuse to retry idempotently (default: new uuid4)")
    args = parser.parse_args()

    deal_id = args.deal_id or f"{args.investor}-{args.company}-{args.effective[:4]}"
    with dealwire.Client(args.server, token=args.token) as client:
        try:
            ensure_organization(client, args.investor)
            ensure_organization(client, args.company)
            event = ev.investment(
                deal_id, args.investor, args.company, amount=ev.money(args.amount),
                stage=args.stage, instrument="equity", effective=args.effective,
                confidence=args.confidence, sources=[ev.source(args.source, args.url)],
                event_id=args.event_id)
            resp = client.append(event.stream, [event])
        except dealwire.Error as e:
            print(f"record_deal: {e}", file=sys.stderr)
            return 1
    state = "duplicate: already recorded" if resp.duplicate else "recorded"
    print(f"{state} {event.stream} at position {resp.first_position} "
          f"(event id {event.event_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
