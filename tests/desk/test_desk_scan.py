"""POST desk/scan/: pretix's check-in logic through the desk contract."""
import datetime
from decimal import Decimal

import pytest
from django.utils.timezone import now
from pretix.base.models import Checkin, Gate, Item, LogEntry, Order, RevokedTicketSecret

from tests.conftest import make_order

from .conftest import desk_url, scan


@pytest.mark.django_db
def test_scan_checks_in_and_answers_contract_shape(client, clist, position, addon):
    r = scan(client, clist, access_code=position.secret)
    assert r.status_code == 201, r.data
    assert r.data["status"] == "ok"
    ci = Checkin.objects.get()
    assert ci.position == position and ci.list == clist and ci.type == "entry"
    assert r.data["checkin"] == {"id": ci.pk, "datetime": r.data["checkin"]["datetime"], "type": "entry"}
    attendee = r.data["attendee"]
    assert attendee["position_id"] == position.pk
    assert attendee["order"] == "ABC12"
    assert attendee["order_status"] == "p"
    assert attendee["name"] == "Ada Lovelace"
    assert attendee["email"] == "ada@example.org"
    assert attendee["product"] == {"id": position.item_id, "name": "Ticket"}
    assert attendee["checked_in"] is True
    assert attendee["checked_in_at"] == r.data["checkin"]["datetime"]
    assert [li["line_item_id"] for li in r.data["line_items"]] == [position.pk, addon.pk]
    assert r.data["line_items"][1] == {
        "line_item_id": addon.pk,
        "product": {"id": addon.item_id, "name": "T-shirt"},
        "variation": {"id": addon.variation_id, "name": "M"},
        "redeemable": True, "redeemed": False, "redeemed_at": None,
    }
    assert r.data["line_items"][0]["redeemable"] is False
    assert r.data["badge"] == {"name": "Ada Lovelace", "product": "Ticket"}
    # pretix's own audit trail: the order log says who checked in where.
    entry = LogEntry.objects.get(action_type="pretix.event.checkin")
    assert entry.parsed_data["list"] == clist.pk and entry.parsed_data["position"] == position.pk


@pytest.mark.django_db
def test_second_scan_is_already_redeemed_and_recorded_as_failed(client, clist, position):
    assert scan(client, clist, access_code=position.secret).status_code == 201
    r = scan(client, clist, access_code=position.secret)
    assert r.status_code == 400
    assert r.data["status"] == "error"
    assert r.data["reason"] == "already_redeemed"
    assert r.data["attendee"]["checked_in"] is True
    failed = Checkin.all.get(successful=False)
    assert failed.error_reason == "already_redeemed" and failed.position == position
    assert LogEntry.objects.filter(action_type="pretix.event.checkin.denied").count() == 1


@pytest.mark.django_db
def test_exit_then_entry_again(client, clist, position):
    clist.allow_entry_after_exit = True
    clist.save()
    assert scan(client, clist, access_code=position.secret).status_code == 201
    r = scan(client, clist, access_code=position.secret, type="exit")
    assert r.status_code == 201 and r.data["checkin"]["type"] == "exit"
    assert scan(client, clist, access_code=position.secret).status_code == 201


@pytest.mark.django_db
def test_unknown_code_is_404_and_recorded(client, clist, event):
    r = scan(client, clist, access_code="doesnotexist")
    assert r.status_code == 404
    assert r.data == {"status": "error", "reason": "invalid"}
    failed = Checkin.all.get()
    assert failed.position is None and failed.error_reason == "invalid" and failed.raw_barcode == "doesnotexist"
    assert LogEntry.objects.filter(action_type="pretix.event.checkin.unknown").exists()


@pytest.mark.django_db
def test_code_of_another_event_is_invalid(client, clist, other_event):
    item = Item.objects.create(event=other_event, name="Ticket", default_price=Decimal("1"), admission=True)
    other = make_order(other_event, [item])
    r = scan(client, clist, access_code=other.positions.get().secret)
    assert r.status_code == 404 and r.data["reason"] == "invalid"
    assert not Checkin.objects.exists()


@pytest.mark.django_db
def test_datetime_and_gate_are_recorded(client, clist, position, organizer):
    gate = Gate.objects.create(organizer=organizer, name="North", identifier="north")
    r = scan(client, clist, access_code=position.secret, datetime="2026-01-02T10:00:00+01:00", gate="north")
    assert r.status_code == 201, r.data
    ci = Checkin.objects.get()
    assert ci.datetime == datetime.datetime(2026, 1, 2, 9, 0, tzinfo=datetime.timezone.utc)
    assert ci.gate == gate


@pytest.mark.django_db
def test_nonce_replay_returns_first_answer_and_records_nothing(client, clist, position):
    first = scan(client, clist, access_code=position.secret, nonce="n-1")
    again = scan(client, clist, access_code=position.secret, nonce="n-1")
    assert first.status_code == again.status_code == 201
    assert first.data == again.data
    assert Checkin.all.count() == 1
    assert LogEntry.objects.filter(action_type__startswith="pretix.event.checkin").count() == 1
    # A new nonce is a new scan.
    assert scan(client, clist, access_code=position.secret, nonce="n-2").data["reason"] == "already_redeemed"
    assert scan(client, clist, access_code=position.secret, nonce="n-2").data["reason"] == "already_redeemed"
    assert Checkin.all.count() == 2


@pytest.mark.django_db
def test_nonce_replay_of_unknown_code(client, clist):
    assert scan(client, clist, access_code="nope", nonce="x").status_code == 404
    assert scan(client, clist, access_code="nope", nonce="x").status_code == 404
    assert Checkin.all.count() == 1


@pytest.mark.django_db
def test_ignore_unpaid_on_list_including_pending(client, clist, pending_order):
    secret = pending_order.positions.get(positionid=1).secret
    assert scan(client, clist, access_code=secret).data["reason"] == "unpaid"
    clist.include_pending = True
    clist.save()
    assert scan(client, clist, access_code=secret).data["reason"] == "unpaid"
    r = scan(client, clist, access_code=secret, ignore_unpaid=True)
    assert r.status_code == 201 and r.data["attendee"]["order_status"] == "n"


def _refusal(client, clist, code):
    r = scan(client, clist, access_code=code)
    assert r.status_code == 400, r.data
    assert r.data["status"] == "error"
    assert Checkin.all.filter(successful=False, error_reason=r.data["reason"]).count() == 1
    assert not Checkin.objects.exists()
    return r.data


@pytest.mark.django_db
class TestRefusalReasons:
    def test_unpaid(self, client, clist, pending_order):
        data = _refusal(client, clist, pending_order.positions.get(positionid=1).secret)
        assert data["reason"] == "unpaid"
        assert data["attendee"]["order"] == "PEND1"

    def test_canceled(self, client, clist, order, position):
        order.status = Order.STATUS_CANCELED
        order.save()
        assert _refusal(client, clist, position.secret)["reason"] == "canceled"

    def test_product(self, client, clist, addon):
        assert _refusal(client, clist, addon.secret)["reason"] == "product"

    def test_rules(self, client, clist, position):
        clist.rules = {"inList": [{"var": "product"}, {"objectList": [{"lookup": ["product", "0", "Other"]}]}]}
        clist.save()
        data = _refusal(client, clist, position.secret)
        assert data["reason"] == "rules"
        assert data["reason_explanation"]

    def test_revoked(self, client, clist, event, position):
        RevokedTicketSecret.objects.create(event=event, position=position, secret="OLD-SECRET")
        data = _refusal(client, clist, "OLD-SECRET")
        assert data["reason"] == "revoked"
        assert data["attendee"]["position_id"] == position.pk

    def test_blocked(self, client, clist, position):
        position.blocked = ["admin"]
        position.save()
        assert _refusal(client, clist, position.secret)["reason"] == "blocked"

    def test_invalid_time(self, client, clist, position):
        position.valid_from = now() + datetime.timedelta(days=1)
        position.save()
        data = _refusal(client, clist, position.secret)
        assert data["reason"] == "invalid_time"
        assert data["reason_explanation"]

    def test_unapproved(self, client, clist, pending_order):
        pending_order.require_approval = True
        pending_order.save()
        assert _refusal(client, clist, pending_order.positions.get(positionid=1).secret)["reason"] == "unapproved"

    def test_ambiguous(self, client, event, ticket, tshirt):
        from pretix.base.models import CheckinList

        lst = CheckinList.objects.create(event=event, name="All", all_products=True, addon_match=True)
        o = make_order(event, [ticket, {"item": tshirt, "addon_to": 0}, {"item": tshirt, "addon_to": 0}])
        data = _refusal(client, lst, o.positions.get(positionid=1).secret + "")
        assert data["reason"] == "ambiguous"


@pytest.mark.django_db
def test_addon_match_checks_in_the_addon(client, event, ticket, tshirt):
    from pretix.base.models import CheckinList

    lst = CheckinList.objects.create(event=event, name="Shirts", all_products=False, addon_match=True)
    lst.limit_products.add(tshirt)
    o = make_order(event, [ticket, {"item": tshirt, "addon_to": 0}])
    r = scan(client, lst, access_code=o.positions.get(positionid=1).secret)
    assert r.status_code == 201
    assert r.data["attendee"]["position_id"] == o.positions.get(positionid=2).pk


MALFORMED = [
    ({}, "access_code"),
    ({"access_code": ""}, "access_code"),
    ({"access_code": None}, "access_code"),
    ({"access_code": 12345}, "access_code"),
    ({"access_code": ["a"]}, "access_code"),
    ({"access_code": "x" * 256}, "access_code"),
    ({"access_code": "a\x00b"}, "access_code"),
    ({"access_code": "abc", "type": "sideways"}, "type"),
    ({"access_code": "abc", "datetime": "yesterday"}, "datetime"),
    ({"access_code": "abc", "datetime": 1700000000}, "datetime"),
    ({"access_code": "abc", "datetime": "0001-01-01T00:00:00+14:00"}, "datetime"),
    ({"access_code": "abc", "ignore_unpaid": "yes"}, "ignore_unpaid"),
    ({"access_code": "abc", "nonce": "n" * 191}, "nonce"),
    ({"access_code": "abc", "nonce": 5}, "nonce"),
    ({"access_code": "abc", "gate": "nowhere"}, "gate"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("body,field", MALFORMED)
def test_malformed_scan_is_400_naming_the_field(client, clist, position, body, field):
    r = client.post(desk_url(clist, "scan"), body, format="json")
    assert r.status_code == 400
    assert field in r.data
    assert not Checkin.all.exists()
    assert not LogEntry.objects.filter(action_type__startswith="pretix.event.checkin").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("raw,content_type", [
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b'"just a string"', "application/json"),
    (b"access_code=abc", "application/x-www-form-urlencoded"),
    (b"\xff\xfe", "text/plain"),
])
def test_body_not_a_json_object_is_400(client, clist, raw, content_type):
    r = client.post(desk_url(clist, "scan"), raw, content_type=content_type)
    assert r.status_code == 400
    assert not Checkin.all.exists()
