"""GET desk/preload/: offline data, hashed codes, incremental sync, constant queries."""
import datetime
import hashlib
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now
from pretix.base.models import CheckinList, Order, RevokedTicketSecret

from tests.conftest import make_order

from .conftest import desk_url, redeem, scan


def preload(client, clist, **params):
    r = client.get(desk_url(clist, "preload"), params)
    if r.status_code == 200:
        body = b"".join(r.streaming_content)
        return r, json.loads(body)
    return r, None


def by_position(data):
    return {rec["attendee"]["position_id"]: rec for rec in data["attendees"]}


def hashed(data, secret):
    return hashlib.sha256((data["salt"] + secret).encode()).hexdigest()


@pytest.mark.django_db
def test_preload_records(client, clist, order, position, addon, pending_order):
    r, data = preload(client, clist)
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    assert data["list"] == clist.pk and data["count"] == 2 and data["removed"] == []
    assert data["entries"] == {"allow_multiple_entries": False, "allow_entry_after_exit": True}
    rec = by_position(data)[position.pk]
    assert rec["code_hash"] == hashed(data, position.secret)
    assert position.secret not in json.dumps(data)
    assert rec["owner"] == position.pk
    assert [li["line_item_id"] for li in rec["line_items"]] == [position.pk, addon.pk]
    assert rec["line_items"][1]["redeemable"] is True
    # Admitted: no steps, nothing checked in yet.
    assert not {"entry", "exit", "last", "redeem"} & set(rec)


@pytest.mark.django_db
@pytest.mark.parametrize("include_pending", [False, True])
def test_unpaid_ticket_is_shipped_with_its_refusal(client, clist, position, pending_order, include_pending):
    """An unpaid ticket is refused online whether or not the list includes pending orders
    (that only allows an explicit override), so offline it carries the same refusal."""
    clist.include_pending = include_pending
    clist.save()
    _, data = preload(client, clist)
    pending = by_position(data)[pending_order.positions.get(positionid=1).pk]
    refusal = ["refuse", "unpaid", "ignore_unpaid"] if include_pending else ["refuse", "unpaid"]
    assert pending["entry"] == pending["exit"] == [refusal]
    assert pending["redeem"] == "unpaid"


@pytest.mark.django_db
def test_salt_is_stable_per_list(client, clist, event, order):
    other = CheckinList.objects.create(event=event, name="Other", all_products=True)
    _, a = preload(client, clist)
    _, b = preload(client, clist)
    _, c = preload(client, other)
    assert a["salt"] == b["salt"] != c["salt"]


@pytest.mark.django_db
def test_addon_on_list_has_own_record(client, event, ticket, tshirt, order, position, addon):
    lst = CheckinList.objects.create(event=event, name="All", all_products=True)
    _, data = preload(client, lst)
    recs = by_position(data)
    assert set(recs) == {position.pk, addon.pk}
    assert [li["line_item_id"] for li in recs[position.pk]["line_items"]] == [position.pk, addon.pk]
    assert recs[addon.pk]["code_hash"] == hashed(data, addon.secret)
    _, only_shirts = preload(client, lst, product=tshirt.pk)
    assert set(by_position(only_shirts)) == {addon.pk}


@pytest.mark.django_db
def test_incremental_sync(client, clist, event, ticket, order, position, addon):
    second = make_order(event, [ticket], code="SEC02")
    _, full = preload(client, clist)
    assert full["count"] == 2
    token = full["sync_token"]

    # Older than the token (minus the overlap), nothing changed: no records at all.
    Order.objects.update(last_modified=now() - datetime.timedelta(hours=1))
    _, delta = preload(client, clist, since=token)
    assert delta["count"] == 0 and delta["removed"] == []

    scan(client, clist, access_code=position.secret)
    redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    second.status = Order.STATUS_CANCELED
    second.save()
    RevokedTicketSecret.objects.create(event=event, position=position, secret="OLD")
    _, delta = preload(client, clist, since=token)
    recs = by_position(delta)
    assert set(recs) == {position.pk}
    assert recs[position.pk]["attendee"]["checked_in"] is True
    assert recs[position.pk]["line_items"][1]["redeemed"] is True
    # Removed: the canceled ticket and the revoked code; it may also name codes the desk never
    # had (here the T-shirt, which this list does not admit), never a code still admitted.
    assert {hashed(full, second.positions.get().secret), hashed(full, "OLD")} <= set(delta["removed"])
    assert hashed(full, position.secret) not in delta["removed"]


@pytest.mark.django_db
@pytest.mark.parametrize("since", ["garbage", "a" * 1001])
def test_bad_sync_token_is_400(client, clist, since):
    r, _ = preload(client, clist, since=since)
    assert r.status_code == 400 and "since" in r.data


@pytest.mark.django_db
def test_sync_token_of_other_list_or_changed_list_is_400(client, clist, event, ticket, tshirt, order):
    other = CheckinList.objects.create(event=event, name="Other", all_products=True)
    _, data = preload(client, clist)
    r, _ = preload(client, other, since=data["sync_token"])
    assert r.status_code == 400
    clist.limit_products.add(tshirt)
    r, _ = preload(client, clist, since=data["sync_token"])
    assert r.status_code == 400 and "since" in r.data


@pytest.mark.django_db
def test_bad_product_is_400(client, clist):
    r, _ = preload(client, clist, product="shirt")
    assert r.status_code == 400 and "product" in r.data


@pytest.mark.django_db
def test_etag_304(client, clist, order, position):
    r, _ = preload(client, clist)
    etag = r["ETag"]
    r2 = client.get(desk_url(clist, "preload"), HTTP_IF_NONE_MATCH=etag)
    assert r2.status_code == 304 and r2["ETag"] == etag
    scan(client, clist, access_code=position.secret)
    r3, data = preload(client, clist)
    assert r3["ETag"] != etag
    assert client.get(desk_url(clist, "preload"), HTTP_IF_NONE_MATCH=etag).status_code == 200


def _make_attendees(event, ticket, tshirt, n, prefix):
    for i in range(n):
        make_order(event, [ticket, {"item": tshirt, "addon_to": 0}], code=f"{prefix}{i:04d}")


@pytest.mark.django_db
def test_query_count_does_not_grow_with_attendees(client, clist, event, ticket, tshirt):
    counts = {}
    sizes = {}
    for n, prefix in ((10, "A"), (190, "B")):
        _make_attendees(event, ticket, tshirt, n, prefix)
        with CaptureQueriesContext(connection) as ctx:
            r, data = preload(client, clist)
        counts[n] = len(ctx.captured_queries)
        sizes[n] = data["count"]
        assert all(len(rec["line_items"]) == 2 for rec in data["attendees"])
    assert sizes == {10: 10, 190: 200}
    assert counts[10] == counts[190]
