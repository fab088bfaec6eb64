"""What one refresh of the door costs in the database, at the size of a big event:

    python -m tests.stack.door_benchmark --attendees 100000 --checkins 200000

seeds N paid attendees on the stack's PostgreSQL (``tests/stack/harness.py``), then
check-ins spread over the last three hours (entries, an exit for every fourth, some at a
gate, some by a device, some automatic, a few forced) and counts the door's figures
(``pretix_desk/door/figures.py``) repeatedly, timing every statement; then the refreshes
that share figures counted before (``door/shared.py``, the stack's Redis as pretix's
cache). It prints the database time per refresh of each, the slowest statements, and
writes JSON (``--json``).
``docs/door-api.rst`` shows a run.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tests.stack.harness import Stack


def seed_checkins(event_slug, organizer, total):
    """``total`` check-ins on the event's main list, in bulk."""
    import random
    from datetime import timedelta

    from django.utils.timezone import now
    from django_scopes import scopes_disabled
    from pretix.base.models import Checkin, Device, Event, Gate, OrderPosition

    rng = random.Random(7)
    with scopes_disabled():
        event = Event.objects.get(slug=event_slug, organizer__slug=organizer)
        clist = event.checkin_lists.get(name="Main")
        gates = [Gate.objects.create(organizer=event.organizer, name=f"Gate {g}", identifier=f"g{g}") for g in "ABC"]
        device = Device.objects.create(organizer=event.organizer, name="Scanner", all_events=True)
        positions = list(OrderPosition.objects.filter(order__event=event, addon_to__isnull=True)
                         .values_list("pk", flat=True))
        start = now() - timedelta(hours=3)
        rows = []
        for i in range(total):
            position = positions[i % len(positions)]
            kind = Checkin.TYPE_EXIT if i >= len(positions) and i % 4 == 0 else Checkin.TYPE_ENTRY
            rows.append(Checkin(
                position_id=position, list=clist, type=kind,
                datetime=start + timedelta(seconds=rng.randrange(3 * 3600)),
                gate=gates[i % 3] if i % 2 else None, device=device if i % 5 == 0 else None,
                auto_checked_in=i % 17 == 0, forced=i % 997 == 0, force_sent=i % 997 == 0,
            ))
            if len(rows) == 5000:
                Checkin.objects.bulk_create(rows)
                rows = []
        Checkin.objects.bulk_create(rows)
    from tests.stack.seed import analyze

    analyze()
    return total


def _timed_refreshes(read, repeats):
    """Run ``read()`` ``repeats`` times; the statements of each run with their times."""
    from django.db import connection

    refreshes = []
    for _ in range(repeats):
        statements = []

        def timed(execute, sql, params, many, context):
            t = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                statements.append(((time.perf_counter() - t) * 1000, sql[:160]))

        with connection.execute_wrapper(timed):
            read()
        refreshes.append(statements)
    return refreshes


def measure(event_slug, organizer, repeats):
    """Database time (ms) of counting the door's figures, with the statements of the
    slowest count, and of a refresh that shares figures counted before (``door/shared.py``:
    what every refresh but the first after a change costs)."""
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils.timezone import now
    from django_scopes import scopes_disabled
    from pretix.base.models import Event

    from pretix_desk.door import shared
    from pretix_desk.door.figures import door_figures
    from pretix_desk.door.payload import door_payload

    with scopes_disabled():
        event = Event.objects.get(slug=event_slug, organizer__slug=organizer)
        counts = _timed_refreshes(lambda: door_payload(
            door_figures(event, event.checkin_lists.all(), at=now()), event=event, may_list=True), repeats)
        cache.delete(shared._key(event, list(event.checkin_lists.all())))
        shared.shared_door_figures(event, event.checkin_lists.all(), at=now())
        later = now() + shared.FRESH_FOR + timedelta(seconds=1)
        reads = _timed_refreshes(lambda: door_payload(
            shared.shared_door_figures(event, event.checkin_lists.all(), at=later), event=event, may_list=True),
            repeats)
    totals = sorted(sum(ms for ms, _ in s) for s in counts)
    shared_totals = sorted(sum(ms for ms, _ in s) for s in reads)
    slowest = max(counts, key=lambda s: sum(ms for ms, _ in s))
    return {
        "refreshes": repeats, "db_ms_p50": totals[len(totals) // 2], "db_ms_max": totals[-1],
        "statements": len(slowest),
        "slowest_statements": [{"ms": round(ms, 1), "sql": sql} for ms, sql in sorted(slowest, reverse=True)[:5]],
        "shared_db_ms_p50": shared_totals[len(shared_totals) // 2], "shared_db_ms_max": shared_totals[-1],
        "shared_statements": len(reads[0]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.stack.door_benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=100000)
    parser.add_argument("--checkins", type=int, default=200000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with Stack(nodes=("a",)) as stack:
        ids = stack.call("tests.stack.seed:seed", attendees=args.attendees, order_events=False, seal=False,
                         timeout=max(600, args.attendees / 50))
        event = ids["attendees"]["event"]
        stack.call("tests.stack.door_benchmark:seed_checkins", event, ids["organizer"], args.checkins,
                   timeout=max(600, args.checkins / 200))
        result = stack.call("tests.stack.door_benchmark:measure", event, ids["organizer"], args.repeats)
    result.update(attendees=args.attendees, checkins=args.checkins)
    print("door refresh, {} attendees, {} check-ins: database {:.1f} ms p50, {:.1f} ms max ({} statements)".format(
        args.attendees, args.checkins, result["db_ms_p50"], result["db_ms_max"], result["statements"]))
    for s in result["slowest_statements"]:
        print("  {:8.1f} ms  {}".format(s["ms"], s["sql"]))
    print("door refresh sharing the figures counted before: database {:.1f} ms p50, {:.1f} ms max "
          "({} statements)".format(result["shared_db_ms_p50"], result["shared_db_ms_max"], result["shared_statements"]))
    path = args.json or Path(tempfile.gettempdir()) / "pretix-desk-door-benchmark-{}.json".format(args.attendees)
    path.write_text(json.dumps(result, indent=2))
    print("JSON: {}".format(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
