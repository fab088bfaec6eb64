"""Two runs of the rules for one order at the same time check each ticket in once.

Needs PostgreSQL: SQLite serialises whole transactions and has no row locks to test.
"""
import threading
import time

import pytest
from django.db import connection
from django_scopes import scopes_disabled
from pretix.base.models import Checkin

from pretix_desk import autocheckin
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
    original = autocheckin.matching.select_checkins

    def slow_select(**kwargs):
        result = original(**kwargs)
        time.sleep(0.5)
        return result

    monkeypatch.setattr(autocheckin.matching, "select_checkins", slow_select)

    start = threading.Barrier(2)
    created, errors = [], []

    def run(mode):
        try:
            with scopes_disabled():
                start.wait()
                created.append(len(autocheckin.auto_checkin(order=order, mode=mode)))
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
