"""Runs of the rules at the same time check each ticket in once: two runs for one order,
and a rule applied to existing orders racing live rules and door scans.

Needs PostgreSQL: SQLite serialises whole transactions and has no row locks to test.
"""
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django_scopes import scopes_disabled
from pretix.base.models import Checkin, CheckinList, Order, OrderPosition
from pretix.base.services.checkin import perform_checkin

from pretix_desk import apply
from pretix_desk.autocheckin import engine
from pretix_desk.models import AutoCheckinRule

from .conftest import make_order

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_concurrent_runs_for_one_order_do_not_duplicate(event, ticket, clist, monkeypatch):
    AutoCheckinRule.objects.create(event=event, list=clist)
    AutoCheckinRule.objects.create(event=event, list=clist, mode="paid")
    order = make_order(event, [ticket, ticket, ticket])

    # Hold each run inside its transaction for a moment after it has read the existing
    # check-ins, so that without the lock both would decide to create the same rows.
    original = engine.matching.select_checkins

    def slow_select(**kwargs):
        result = original(**kwargs)
        time.sleep(0.5)
        return result

    monkeypatch.setattr(engine.matching, "select_checkins", slow_select)

    start = threading.Barrier(2)
    created, errors = [], []

    def run(mode):
        try:
            with scopes_disabled():
                start.wait()
                created.append(len(engine.check_in_order(order=order, modes=(mode,))))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(m,)) for m in ("placed", "paid")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(created) == [0, 3]
    assert Checkin.objects.filter(position__order=order, list=clist).count() == 3


def test_apply_racing_live_checkins_and_scans(event, ticket, clist, monkeypatch):
    """A rule applied to existing orders while the same orders are paid (live rules) and
    scanned at the door: no errors, no deadlocks, at most one automatic check-in per ticket
    (none for a ticket whose scan came first: a ticket with an entry counts as checked in)."""
    clist.allow_multiple_entries = True
    clist.save()
    rule = AutoCheckinRule.objects.create(event=event, list=clist, mode="paid")
    orders = [make_order(event, [ticket, ticket]) for _ in range(40)]
    positions = list(OrderPosition.objects.filter(order__in=orders).select_related("order"))

    original = engine.matching.select_checkins

    def slow_select(**kwargs):
        result = original(**kwargs)
        time.sleep(0.02)  # widen the window between reading and writing
        return result

    monkeypatch.setattr(engine.matching, "select_checkins", slow_select)
    start = threading.Barrier(3)
    errors = []

    def run(fn):
        try:
            with scopes_disabled():
                start.wait()
                fn()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            connection.close()

    def apply_rule():
        apply.apply_rule(rule=AutoCheckinRule.objects.get(pk=rule.pk), dry_run=False, batch_size=7)

    def live_rules():
        for order in orders:  # the same way as the batches: they meet at every order
            engine.check_in_order(order=Order.objects.get(pk=order.pk), modes=("paid",))

    def scans():
        for op in positions[::-1]:
            perform_checkin(OrderPosition.objects.get(pk=op.pk), CheckinList.objects.get(pk=clist.pk), {})

    threads = [threading.Thread(target=run, args=(fn,)) for fn in (apply_rule, live_rules, scans)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    autos = Counter(
        Checkin.objects.filter(list=clist, auto_checked_in=True).values_list("position_id", flat=True)
    )
    assert set(autos) <= {op.pk for op in positions} and set(autos.values()) <= {1}
    assert Checkin.objects.filter(list=clist, auto_checked_in=False).count() == len(positions)
    # Every ticket is checked in, and an automatic check-in came only before the scan.
    first = {}
    for ci in Checkin.objects.filter(list=clist).order_by("pk"):
        first.setdefault(ci.position_id, ci)
    assert set(first) == {op.pk for op in positions}
    assert all(first[pk].auto_checked_in for pk in autos)


def test_a_batch_chosen_as_deadlock_victim_runs_again(event, ticket, clist, monkeypatch):
    """A real deadlock: another transaction holds the second order's ticket and then asks
    for the first one's, which the batch has locked while it waits for the second.
    PostgreSQL picks the batch as victim (its deadlock check runs first: a shorter
    ``deadlock_timeout`` for its session), the batch runs again once the other transaction
    is through, and every ticket is checked in once."""
    first, second = make_order(event, [ticket]), make_order(event, [ticket])
    p1, p2 = first.positions.get(), second.positions.get()
    original, outcomes = engine.check_in_orders, []

    def recorded(**kwargs):
        try:
            result = original(**kwargs)
        except Exception as e:
            outcomes.append(getattr(e.__cause__, "sqlstate", None) or type(e).__name__)
            raise
        outcomes.append("done")
        return result

    monkeypatch.setattr(apply.engine, "check_in_orders", recorded)
    with connection.cursor() as cursor:
        cursor.execute("SET deadlock_timeout = '50ms'")
        cursor.execute("SELECT pg_backend_pid()")
        batch_pid = cursor.fetchone()[0]
    holding, errors = threading.Event(), []

    def other_transaction():
        from django.db import transaction
        try:
            with scopes_disabled(), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL deadlock_timeout = '10s'")
                list(OrderPosition.all.select_for_update().filter(pk=p2.pk))
                holding.set()
                for _ in range(200):  # until the batch holds the first ticket and waits for this one
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [batch_pid])
                        if cursor.fetchone()[0] == "Lock":
                            break
                    time.sleep(0.02)
                list(OrderPosition.all.select_for_update().filter(pk=p1.pk))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            connection.close()

    thread = threading.Thread(target=other_transaction)
    thread.start()
    assert holding.wait(10)
    try:
        result = apply.apply_rule(rule=AutoCheckinRule.objects.create(event=event, list=clist), dry_run=False)
    finally:
        thread.join(30)
        with connection.cursor() as cursor:
            cursor.execute("RESET deadlock_timeout")
    assert not errors, errors
    assert outcomes == ["40P01", "done"]
    assert result["checkins"] == 2
    assert Counter(Checkin.objects.filter(list=clist).values_list("position_id", flat=True)) == {p1.pk: 1, p2.pk: 1}
