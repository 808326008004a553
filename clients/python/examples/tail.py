#!/usr/bin/python3
"""Prints deals as they arrive: a resumable consumer of the Dealwire log.

    /usr/bin/python3 clients/python/examples/tail.py --server 127.0.0.1:50051

It uses a named, durable subscription (default "deal-tail") filtered on
InvestmentReported, FundingRoundReported, AcquisitionReported and
DealStageChanged: the first run prints every deal from the start of the log,
later runs continue after the last deal printed (the checkpoint is committed
as it goes and on exit). It survives server restarts. Ctrl-C stops it cleanly.
"""

import argparse
import os
import signal
import sys

import _dealwire_path  # noqa: F401  (finds the built package)
import dealwire
from dealwire import events as ev

DEAL_TYPES = ["InvestmentReported", "FundingRoundReported", "AcquisitionReported",
              "DealStageChanged"]


def stage_name(value):
    return ev.events_pb2.DealStage.Name(value).removeprefix("DEAL_STAGE_").lower()


def describe(event):
    kind = ev.event_type(event)
    p = getattr(event.payload, event.payload.WhichOneof("payload"))
    if kind == "InvestmentReported":
        text = f"{p.investor_id} -> {p.company_id} {stage_name(p.stage)}"
        amount = p.amount if p.HasField("amount") else None
    elif kind == "FundingRoundReported":
        text = f"round {p.round_id} of {p.company_id} ({p.label}) {stage_name(p.stage)}"
        amount = p.target_amount if p.HasField("target_amount") else None
    elif kind == "AcquisitionReported":
        text = f"{p.acquirer_id} acquires {p.target_id} {stage_name(p.stage)}"
        amount = p.price if p.HasField("price") else None
    else:
        text = f"{p.deal_id} now {stage_name(p.new_stage)}"
        amount = p.amount if p.HasField("amount") else None
    if amount is not None:
        text += f" {ev.money_str(amount)}"
    return f"#{event.position} {event.stream} {kind}: {text}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default=os.environ.get("DEALWIRE_SERVER", "127.0.0.1:50051"))
    parser.add_argument("--token", default=os.environ.get("DEALWIRE_TOKEN"))
    parser.add_argument("--name", default="deal-tail", help="durable subscription name")
    parser.add_argument("--max-events", type=int, default=0, help="exit after N deals (0: never)")
    args = parser.parse_args()
    # SIGTERM stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    count = 0
    with dealwire.Client(args.server, token=args.token) as client:
        deals = client.subscribe(args.name, event_types=DEAL_TYPES, checkpoint_every=10,
                                 reconnect_timeout=None)
        try:
            for event in deals:
                # Counted first: a SIGTERM between the two would otherwise
                # report a deal it printed as not seen.
                count += 1
                print(describe(event), flush=True)
                if args.max_events and count >= args.max_events:
                    break
        except KeyboardInterrupt:
            pass
        except dealwire.Error as e:
            print(f"tail: {e}", file=sys.stderr)
            return 1
        finally:
            deals.close()  # commits the checkpoint of the last deal printed
    print(f"tail: stopped after {count} deal(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
