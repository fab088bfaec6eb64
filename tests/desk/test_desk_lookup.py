"""GET desk/lookup/{code}/: read-only, says what a scan would answer."""
import urllib.parse

import pytest
from pretix.base.models import Checkin, LogEntry, Order

from tests.conftest import make_order

from .conftest import desk_url, scan


def lookup(client, clist, code):
    url = desk_url(clist, "scan").replace("/scan/", "/lookup/%s/" % urllib.parse.quote(code, safe=""))
    return client.get(url)


@pytest.mark.django_db
def test_lookup_is_read_only_and_predicts_scan(client, clist, position, addon):
    logs = LogEntry.objects.count()
    r = lookup(client, clist, position.secret)
    assert r.status_code == 200
    assert r.data["can_check_in"] is True and r.data["reason"] is None
    assert r.data["attendee"]["position_id"] == position.pk
    assert r.data["attendee"]["checked_in"] is False
    assert [li["line_item_id"] for li in r.data["line_items"]] == [position.pk, addon.pk]
    assert r.data["checkins"] == []
    assert not Checkin.all.exists() and LogEntry.objects.count() == logs


@pytest.mark.django_db
def test_lookup_lists_checkins_newest_first_including_failed(client, clist, position):
    scan(client, clist, access_code=position.secret, datetime="2026-01-01T10:00:00Z")
    scan(client, clist, access_code=position.secret, datetime="2026-01-01T11:00:00Z")
    r = lookup(client, clist, position.secret)
    assert r.data["can_check_in"] is False and r.data["reason"] == "already_redeemed"
    assert [(c["successful"], c["datetime"][:19]) for c in r.data["checkins"]] == [
        (False, "2026-01-01T11:00:00"), (True, "2026-01-01T10:00:00"),
    ]
    assert r.data["attendee"]["checked_in"] is True


@pytest.mark.django_db
def test_lookup_reason_for_unpaid(client, clist, pending_order):
    r = lookup(client, clist, pending_order.positions.get(positionid=1).secret)
    assert r.status_code == 200
    assert r.data["can_check_in"] is False and r.data["reason"] == "unpaid"


@pytest.mark.django_db
def test_lookup_canceled(client, clist, order, position):
    order.status = Order.STATUS_CANCELED
    order.save()
    assert lookup(client, clist, position.secret).data["reason"] == "canceled"


@pytest.mark.django_db
@pytest.mark.parametrize("secret", ["abc/def+ghi==", "with space", "ümlaut/ß", "/leading", "trailing/"])
def test_lookup_percent_encoded_codes(client, clist, event, ticket, secret):
    o = make_order(event, [ticket])
    p = o.positions.get()
    p.secret = secret
    p.save()
    r = lookup(client, clist, secret)
    assert r.status_code == 200, secret
    assert r.data["attendee"]["position_id"] == p.pk


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["unknown", "a\x00b", "x" * 300])
def test_lookup_unknown_is_404(client, clist, position, code):
    r = lookup(client, clist, code)
    assert r.status_code == 404
    assert r.data == {"status": "error", "reason": "invalid"}
    assert not Checkin.all.exists()
