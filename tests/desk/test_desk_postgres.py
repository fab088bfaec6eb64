"""Concurrency on PostgreSQL: real threads, each with its own database connection.

SQLite serializes all writers anyway; the ``postgres`` marker skips these tests on the
SQLite run, and scripts/test requires them on PostgreSQL.
"""
import threading

import pytest
from django.db import connections
from django_scopes import scopes_disabled
from pretix.base.models import Checkin
from rest_framework.test import APIClient

from pretix_desk.models import Redemption

from .conftest import desk_url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

THREADS = 8


def run_at_once(fn, n=THREADS):
    """Start n threads that call fn(i) as simultaneously as a barrier allows."""
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def worker(i):
        try:
            with scopes_disabled():
                barrier.wait()
                results[i] = fn(i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


@pytest.fixture
def token(admin_team):
    return admin_team.tokens.create(name="threads").token


def _client(token):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION="Token " + token)
    return c


def test_eight_scanners_one_ticket_exactly_one_ok(token, clist, position):
    url = desk_url(clist, "scan")
    results = run_at_once(lambda i: _client(token).post(url, {"access_code": position.secret}, format="json"))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [400] * (THREADS - 1)
    assert {r.data["reason"] for r in results if r.status_code == 400} == {"already_redeemed"}
    assert Checkin.objects.filter(position=position, type="entry").count() == 1


def test_eight_desks_one_addon_exactly_one_redemption(token, clist, position, addon):
    url = desk_url(clist, "redeem")
    body = {"access_code": position.secret, "line_item_id": addon.pk}
    results = run_at_once(lambda i: _client(token).post(url, body, format="json"))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [409] * (THREADS - 1)
    assert Redemption.objects.filter(position=addon).count() == 1


def test_same_nonce_at_once_is_one_scan(token, clist, position):
    url = desk_url(clist, "scan")
    body = {"access_code": position.secret, "nonce": "same"}
    results = run_at_once(lambda i: _client(token).post(url, body, format="json"))
    assert {r.status_code for r in results} == {201}
    assert len({r.data["checkin"]["id"] for r in results}) == 1
    assert Checkin.all.filter(position=position).count() == 1


def test_replayed_offline_batch_records_each_scan_once(token, event, clist, ticket):
    from tests.conftest import make_order

    codes = [make_order(event, [ticket], code=f"OFF{i:02d}").positions.get().secret for i in range(6)]
    batch = [
        {"access_code": code, "nonce": f"offline-{i}", "datetime": f"2026-01-01T10:0{i}:00Z"}
        for i, code in enumerate(codes)
    ]
    batch.append({"access_code": codes[0], "nonce": "offline-again", "datetime": "2026-01-01T10:09:00Z"})
    url = desk_url(clist, "scan")

    def replay(i):
        c = _client(token)
        return [c.post(url, b, format="json").status_code for b in batch]

    # Two desks upload the same queue at the same time, then one uploads it again.
    first, second = run_at_once(replay, n=2)
    third = replay(0)
    assert first == second == third == [201] * 6 + [400]
    assert Checkin.objects.count() == 6
    assert Checkin.all.filter(successful=False).count() == 1


def test_eight_desks_upload_the_same_offline_admission_every_entry_is_kept(token, clist, event, ticket):
    """Eight desks admitted one ticket while offline and upload at the same moment: pretix
    keeps eight entries, the first ordinary and seven forced, and the same uploads again
    record nothing new."""
    import datetime

    from django.utils.timezone import now

    from pretix_desk.desk.sync import fingerprint_of, make_sync_token
    from tests.conftest import make_order

    with scopes_disabled():
        position = make_order(event, [ticket], code="TWICE").positions.get()
        token_then = make_sync_token(checkin_list=clist, product_id=None, fingerprint=fingerprint_of(clist),
                                     started_at=now() - datetime.timedelta(hours=1))
    url = desk_url(clist, "scan")

    def upload(i):
        return _client(token).post(url, {
            "access_code": position.secret, "nonce": f"desk-{i}", "datetime": f"2026-01-01T10:0{i}:00Z",
            "offline": {"answer": "ok", "sync_token": token_then},
        }, format="json")

    results = run_at_once(upload)
    again = run_at_once(upload)
    assert {r.status_code for r in results + again} == {201}
    recorded = sorted(r.data["offline"]["recorded"] for r in results)
    assert recorded == ["checkin"] + ["forced"] * (THREADS - 1)
    assert [r.data["offline"]["recorded"] for r in again] == [r.data["offline"]["recorded"] for r in results]
    assert Checkin.objects.filter(position=position).count() == THREADS
    assert Checkin.objects.filter(position=position, forced=True).count() == THREADS - 1


def test_eight_desks_at_a_door_with_three_places_admit_exactly_three(token, event, clist, ticket):
    from pretix_desk.door.capacity import set_capacity
    from tests.conftest import make_order

    with scopes_disabled():
        guests = [make_order(event, [ticket], code=f"ROOM{i}").positions.get() for i in range(THREADS)]
        set_capacity(checkin_list=clist, gate=None, capacity=3)
    url = desk_url(clist, "scan")
    results = run_at_once(lambda i: _client(token).post(url, {"access_code": guests[i].secret}, format="json"))
    assert sorted(r.status_code for r in results) == [201] * 3 + [400] * (THREADS - 3)
    assert {r.data["reason"] for r in results if r.status_code == 400} == {"capacity"}
    with scopes_disabled():
        assert clist.inside_count == 3
