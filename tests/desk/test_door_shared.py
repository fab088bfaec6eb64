"""The door's figures are counted once per change and shared by every manager's refresh
(door/shared.py): an unchanged door costs a refresh no count, any check-in, exit,
cancellation or annulment is seen at the next refresh, and time moves the rate on without
a count."""
import datetime
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils.timezone import now
from pretix.base.models import Checkin

from pretix_desk.door import shared
from tests.conftest import make_order

from .conftest import scan
from .test_desk_door import door_url

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "door-shared"}}


@pytest.fixture(autouse=True)
def real_cache():
    with override_settings(CACHES=LOCMEM):
        cache.clear()
        yield
        cache.clear()


@pytest.fixture
def tickets(event, ticket):
    return [make_order(event, [ticket], code=f"SHR{i:02d}").positions.get() for i in range(4)]


def refresh(client, event):
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(door_url(event))
    assert r.status_code == 200, r.content
    return r.data["lists"][0], [q["sql"] for q in ctx.captured_queries]


def counted(statements):
    """Whether the refresh counted the list (pretix's positions of it) itself."""
    return any("COUNT(" in sql.upper() and "orderposition" in sql for sql in statements)


@pytest.mark.django_db
def test_an_unchanged_door_is_counted_once_for_every_refresh(client, event, clist, tickets, monkeypatch):
    scan(client, clist, access_code=tickets[0].secret, nonce=uuid.uuid4().hex)
    first, statements = refresh(client, event)
    assert counted(statements) and first["entered"] == 1
    # a later refresh (past the moment in which figures are shared unasked) counts nothing
    later = now() + shared.FRESH_FOR + datetime.timedelta(seconds=1)
    monkeypatch.setattr("pretix_desk.api.door.now", lambda: later)
    again, statements = refresh(client, event)
    assert not counted(statements)
    assert {k: v for k, v in again.items() if k != "all_in_at"} == {k: v for k, v in first.items() if k != "all_in_at"}
    # who asks (organizer, token, event and its settings), the lists with the marker, the
    # desks, the capacities: nothing reads pretix's check-ins
    assert len(statements) <= 8
    assert not any('"pretixbase_checkin" ' in sql or '"pretixbase_checkin"."' in sql for sql in statements)


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["entry", "exit", "cancel", "annul", "delete"])
def test_every_change_is_seen_at_the_next_refresh(client, event, clist, tickets, monkeypatch, change):
    for p in tickets[:2]:
        scan(client, clist, access_code=p.secret, nonce=uuid.uuid4().hex)
    before, _ = refresh(client, event)
    later = now() + shared.FRESH_FOR + datetime.timedelta(seconds=1)
    if change == "entry":
        scan(client, clist, access_code=tickets[2].secret, nonce=uuid.uuid4().hex)
    elif change == "exit":
        scan(client, clist, access_code=tickets[0].secret, type="exit", nonce=uuid.uuid4().hex)
    elif change == "cancel":
        order = tickets[1].order
        order.status = order.STATUS_CANCELED
        order.save()
    elif change == "annul":
        checkin = Checkin.objects.get(position=tickets[1])
        checkin.successful = False
        checkin.save()
    else:
        Checkin.objects.get(position=tickets[1]).delete()  # pretix's "revert check-in"
    monkeypatch.setattr("pretix_desk.api.door.now", lambda: later)
    after, statements = refresh(client, event)
    assert counted(statements)
    expected = {
        "entry": {"entered": 3, "inside": 3, "expected": 4},
        "exit": {"entered": 2, "inside": 1, "expected": 4},
        "cancel": {"entered": 1, "inside": 1, "expected": 3},
        "annul": {"entered": 1, "inside": 1, "expected": 4},
        "delete": {"entered": 1, "inside": 1, "expected": 4},
    }[change]
    assert {k: after[k] for k in expected} == expected, (before, after)


@pytest.mark.django_db
def test_the_rate_falls_with_time_without_a_count(client, event, clist, tickets, monkeypatch):
    for p in tickets[:3]:
        scan(client, clist, access_code=p.secret, nonce=uuid.uuid4().hex)
    first, _ = refresh(client, event)
    assert first["rate_per_minute"] == 0.3 and first["all_in_at"]
    later = now() + datetime.timedelta(minutes=11)
    monkeypatch.setattr("pretix_desk.api.door.now", lambda: later)
    monkeypatch.setattr(shared, "KEPT_FOR", datetime.timedelta(minutes=30))
    after, statements = refresh(client, event)
    assert not counted(statements)
    assert (after["rate_per_minute"], after["all_in_at"]) == (0.0, None)


@pytest.mark.django_db
def test_while_one_counts_the_others_answer_with_the_last_figures(client, event, clist, tickets, monkeypatch):
    scan(client, clist, access_code=tickets[0].secret, nonce=uuid.uuid4().hex)
    first, _ = refresh(client, event)
    scan(client, clist, access_code=tickets[1].secret, nonce=uuid.uuid4().hex)
    later = now() + shared.FRESH_FOR + datetime.timedelta(seconds=1)
    monkeypatch.setattr("pretix_desk.api.door.now", lambda: later)
    key = shared._key(event, [clist])
    assert cache.add(key + ":lock", 1, 30)  # another process is counting
    during, statements = refresh(client, event)
    assert not counted(statements) and during["entered"] == 1
    cache.delete(key + ":lock")
    after, _ = refresh(client, event)
    assert after["entered"] == 2


@pytest.mark.django_db
def test_no_manager_waits_for_a_count_but_the_first(client, event, clist, tickets, monkeypatch):
    """Figures out of date are counted by a worker; the refresh that noticed shows the held
    ones at once (pretix without a worker runs the task at once: the figures are new)."""
    from pretix_desk import tasks

    scan(client, clist, access_code=tickets[0].secret, nonce=uuid.uuid4().hex)
    first, _ = refresh(client, event)
    scan(client, clist, access_code=tickets[1].secret, nonce=uuid.uuid4().hex)
    later = now() + shared.FRESH_FOR + datetime.timedelta(seconds=1)
    monkeypatch.setattr("pretix_desk.api.door.now", lambda: later)
    queued = []
    monkeypatch.setattr(tasks.count_door, "apply_async", lambda **kw: queued.append(kw))
    during, statements = refresh(client, event)
    assert not counted(statements) and during["entered"] == 1  # answered from what is held
    assert queued == [{"kwargs": {"event": event.pk, "list_ids": [clist.pk]}}]
    again, _ = refresh(client, event)  # the count is under way: not asked for twice
    assert len(queued) == 1 and again["entered"] == 1
    tasks.count_door.apply(kwargs=queued[0]["kwargs"])  # the worker
    after, statements = refresh(client, event)
    assert not counted(statements) and after["entered"] == 2
    monkeypatch.undo()
