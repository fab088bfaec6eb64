"""The door at a glance (GET desk_door/): its counts are pretix's (the check-in list status
of the same caller), arrivals are told apart by source, gate and direction, forced check-ins
are listed as conflicts (order codes only for those who may view orders), and a refresh costs
the same number of statements however many attendees and check-ins there are."""
import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.timezone import now
from pretix.base.models import Checkin, Gate, Order

from pretix_desk.door import figures as door
from tests.conftest import make_order, team_client

from .conftest import scan
from .test_desk_permissions import device_client


def door_url(event, **params):
    url = reverse("api-v1:desk-door-list", kwargs={"organizer": event.organizer.slug, "event": event.slug})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def pretix_status(client, clist):
    r = client.get(reverse("api-v1:checkinlist-status", kwargs={
        "organizer": clist.event.organizer.slug, "event": clist.event.slug, "pk": clist.pk}))
    assert r.status_code == 200, r.content
    return r.data


def pretix_redeem(client, clist, secret, **extra):
    r = client.post(reverse("api-v1:checkinrpc.redeem", kwargs={"organizer": clist.event.organizer.slug}),
                    {"secret": secret, "lists": [clist.pk], "nonce": uuid.uuid4().hex, **extra}, format="json")
    assert r.status_code in (200, 201, 400), r.content
    return r.data


@pytest.fixture
def door_day(event, ticket, clist, organizer, client):
    """Six paid tickets and one pending on "Main": three entered at the desk (one left
    again), one by pretixSCAN at the north gate, one by an auto check-in rule."""
    paid = [make_order(event, [ticket], code=f"DOOR{i}", name=f"Guest {i}").positions.get() for i in range(6)]
    make_order(event, [ticket], code="PEND9", status=Order.STATUS_PENDING)
    north = Gate.objects.create(organizer=organizer, name="North", identifier="north")
    device_api, device = device_client(organizer, "pretixscan")
    device.gate = north
    device.save()
    for p in paid[:3]:
        assert scan(client, clist, access_code=p.secret, nonce=uuid.uuid4().hex).status_code == 201
    assert scan(client, clist, access_code=paid[0].secret, type="exit", nonce=uuid.uuid4().hex).status_code == 201
    assert pretix_redeem(device_api, clist, paid[3].secret)["status"] == "ok"
    Checkin.objects.create(position=paid[4], list=clist, auto_checked_in=True, type=Checkin.TYPE_ENTRY)
    return {"paid": paid, "north": north, "device": device_api}


@pytest.mark.django_db
def test_expected_entered_and_inside_are_pretixs_own_counts(client, event, clist, door_day):
    r = client.get(door_url(event))
    assert r.status_code == 200, r.content
    (main,) = r.data["lists"]
    status = pretix_status(client, clist)
    assert (main["expected"], main["entered"], main["inside"]) == (
        status["position_count"], status["checkin_count"], status["inside_count"])
    assert (main["expected"], main["entered"], main["not_arrived"], main["inside"]) == (6, 5, 1, 4)
    # inside by the gate of the entry that brought each in
    assert main["inside_by_gate"] == [{"gate": None, "inside": 3}, {"gate": door_day["north"].pk, "inside": 1}]


@pytest.mark.django_db
def test_who_left_and_came_back_is_inside_at_the_gate_of_the_last_entry(client, event, clist, organizer, door_day):
    south = Gate.objects.create(organizer=organizer, name="South", identifier="south")
    guest = door_day["paid"][3]  # entered at the north gate
    assert scan(client, clist, access_code=guest.secret, type="exit", nonce=uuid.uuid4().hex).status_code == 201
    assert scan(client, clist, access_code=guest.secret, gate="south", nonce=uuid.uuid4().hex).status_code == 201
    data = client.get(door_url(event)).data
    (main,) = data["lists"]
    assert main["inside_by_gate"] == [{"gate": None, "inside": 3}, {"gate": south.pk, "inside": 1}]
    assert {"id": south.pk, "name": "South"} in data["gates"]


@pytest.mark.django_db
def test_arrivals_say_where_they_came_from(client, event, clist, door_day):
    data = client.get(door_url(event)).data
    assert data["columns"] == ["bucket", "list", "gate", "source", "type", "count"]
    for series in (data["recent"]["rows"], data["whole"]["rows"]):
        totals = {}
        for _bucket, list_id, gate, source, kind, n in series:
            assert list_id == clist.pk
            totals[(gate, source, kind)] = totals.get((gate, source, kind), 0) + n
        assert totals == {
            (None, "desk", "entry"): 3, (None, "desk", "exit"): 1,
            (door_day["north"].pk, "device", "entry"): 1, (None, "auto", "entry"): 1,
        }
    assert data["gates"] == [{"id": door_day["north"].pk, "name": "North"}]
    assert data["recent"]["bucket"] == "minute" and data["whole"]["bucket"] == "hour"


@pytest.mark.django_db
def test_failed_scans_are_no_arrivals(client, event, clist, door_day):
    before = client.get(door_url(event)).data
    used = door_day["paid"][1]
    assert scan(client, clist, access_code=used.secret, nonce=uuid.uuid4().hex).data["reason"] == "already_redeemed"
    after = client.get(door_url(event)).data
    counts = [{k: v for k, v in li.items() if k != "all_in_at"} for li in before["lists"]]
    assert after["recent"]["rows"] == before["recent"]["rows"]
    assert [{k: v for k, v in li.items() if k != "all_in_at"} for li in after["lists"]] == counts


def test_the_forecast_counts_door_entries_of_the_last_minutes_only():
    at = datetime.datetime(2026, 12, 7, 18, 0, tzinfo=datetime.timezone.utc)

    f = door.ListFigures(list_id=1, name="Main", subevent_id=None, expected=100, entered=40, inside=35)
    minute = datetime.timedelta(minutes=1)
    rows = [
        (at - 3 * minute, 1, None, door.SOURCE_DESK, "entry", 12),
        (at - 9 * minute, 1, 7, door.SOURCE_DEVICE, "entry", 8),
        (at - 2 * minute, 1, None, door.SOURCE_AUTO, "entry", 50),  # nobody walked in
        (at - 2 * minute, 1, None, door.SOURCE_DESK, "exit", 5),
        (at - 11 * minute, 1, None, door.SOURCE_DESK, "entry", 30),  # before the span
        (at - 1 * minute, 2, None, door.SOURCE_DESK, "entry", 30),  # another list
    ]
    door.forecast([f], rows, at)
    assert f.rate_per_minute == 2.0
    assert f.all_in_at == at + datetime.timedelta(minutes=30)
    idle = door.ListFigures(list_id=1, name="Main", subevent_id=None, expected=10, entered=2, inside=2)
    door.forecast([idle], [], at)
    assert (idle.rate_per_minute, idle.all_in_at) == (0.0, None)


@pytest.mark.django_db
def test_forced_check_ins_are_conflicts_with_the_order_for_those_who_may_view_orders(
        client, event, clist, organizer, door_day):
    used = door_day["paid"][1]
    r = scan(client, clist, access_code=used.secret, force=True, nonce=uuid.uuid4().hex)
    assert r.status_code == 201, r.data
    assert Checkin.objects.get(position=used, forced=True).force_sent
    (conflict,) = client.get(door_url(event)).data["conflicts"]
    assert conflict["position_id"] == used.pk and conflict["order"] == "DOOR1" and conflict["force_sent"] is True
    assert conflict["order_url"].endswith("/orders/DOOR1/")
    door_staff = team_client(organizer, permissions=["event.orders:checkin"])
    r = door_staff.get(door_url(event))
    assert r.status_code == 200
    (conflict,) = r.data["conflicts"]
    assert (conflict["order"], conflict["order_url"]) == (None, None) and conflict["position_id"] == used.pk
    assert "Guest" not in str(r.data)


@pytest.mark.django_db
def test_who_may_read_the_door(event, clist, organizer, door_day):
    assert team_client(organizer, permissions=["event.orders:read"]).get(door_url(event)).status_code == 200
    assert team_client(organizer, permissions=["event.orders:checkin"]).get(door_url(event)).status_code == 200
    assert team_client(organizer, permissions=["event.settings.general:write"]).get(
        door_url(event)).status_code == 403
    # a pretixSCAN device's security profile does not include the door
    assert door_day["device"].get(door_url(event)).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("value,status", [("abc", 400), ("%C2%B2", 400), ("0", 400), ("99999", 404),
                                          (str(2**31), 400)])
def test_a_bad_list_is_named(client, event, clist, value, status):
    r = client.get(door_url(event, list=value))
    assert r.status_code == status, r.content


@pytest.mark.django_db
def test_lists_can_be_chosen_and_the_plugin_must_be_on(client, event, clist, ticket):
    other = event.checkin_lists.create(name="VIP", all_products=True)
    data = client.get(door_url(event, list=other.pk)).data
    assert [li["name"] for li in data["lists"]] == ["VIP"]
    assert [li["name"] for li in client.get(door_url(event)).data["lists"]] == ["Main", "VIP"]
    event.disable_plugin("pretix_desk")
    event.save()
    assert client.get(door_url(event)).status_code == 404


@pytest.mark.django_db
def test_a_refresh_costs_the_same_however_many_attend(client, event, clist, ticket):
    def statements():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(door_url(event)).status_code == 200
        return len(ctx.captured_queries)

    first = make_order(event, [ticket], code="FEW01").positions.get()
    scan(client, clist, access_code=first.secret, nonce=uuid.uuid4().hex)
    few = statements()
    for i in range(30):
        p = make_order(event, [ticket], code=f"MANY{i:02d}").positions.get()
        scan(client, clist, access_code=p.secret, nonce=uuid.uuid4().hex)
        Checkin.objects.create(position=p, list=clist, type=Checkin.TYPE_EXIT, datetime=now())
    assert statements() == few


@pytest.mark.django_db
def test_pretixs_web_check_in_is_told_apart_from_the_desk(client, event, clist, ticket):
    """pretix's control panel and web check-in send no nonce; the desk sends one with every
    scan."""
    web_checked = make_order(event, [ticket], code="WEB01").positions.get()
    desk_checked = make_order(event, [ticket], code="DSK01").positions.get()
    Checkin.objects.create(position=web_checked, list=clist, type=Checkin.TYPE_ENTRY)  # as pretix's web check-in
    assert scan(client, clist, access_code=desk_checked.secret, nonce=uuid.uuid4().hex).status_code == 201
    rows = client.get(door_url(event)).data["recent"]["rows"]
    assert sorted((source, n) for _b, _l, _g, source, _t, n in rows) == [("desk", 1), ("web", 1)]
