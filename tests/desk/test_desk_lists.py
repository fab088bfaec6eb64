"""A desk that scans against several check-in lists at once, and gates."""
import threading
import time
import uuid

import pytest
from django.db import connection, connections, transaction
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix.base.models import Checkin, CheckinList, Gate, Order

from pretix_desk.desk.multilist import scan_on_lists
from pretix_desk.desk.scan import scan as desk_scan
from tests.conftest import make_order

from .conftest import scan
from .test_desk_permissions import device_client


@pytest.fixture
def shirts(event, tshirt):
    cl = CheckinList.objects.create(event=event, name="Shirts", all_products=False)
    cl.limit_products.add(tshirt)
    return cl


@pytest.mark.django_db
def test_first_list_that_admits_wins(client, clist, shirts, event, ticket, tshirt, organizer):
    ticket_code = make_order(event, [ticket], code="TICK1").positions.get().secret
    shirt_code = make_order(event, [tshirt], code="SHIR1").positions.get().secret
    other = make_order(event, [{"item": tshirt}], code="NONE1")
    neither = CheckinList.objects.create(event=event, name="Nobody", all_products=False)

    r = scan(client, clist, access_code=ticket_code, other_lists=[shirts.pk])
    assert r.status_code == 201 and r.data["list"]["id"] == clist.pk
    r = scan(client, clist, access_code=shirt_code, other_lists=[shirts.pk])
    assert r.status_code == 201 and r.data["list"] == {"id": shirts.pk, "name": "Shirts"}
    assert Checkin.objects.get(position__secret=shirt_code).list_id == shirts.pk

    # Admitted by neither: the refusal of the desk's own (first) list, recorded there only.
    code = other.positions.get().secret
    r = scan(client, neither, access_code=code, other_lists=[clist.pk])
    assert r.status_code == 400 and r.data["reason"] == "product" and r.data["list"]["id"] == neither.pk
    assert list(Checkin.all.filter(position__secret=code).values_list("list_id", flat=True)) == [neither.pk]


@pytest.mark.django_db
def test_a_refusal_everywhere_shows_the_first_lists_state(client, clist, shirts, event, ticket):
    """Each list's candidates carry that list's state: refused on both, the refusal shows
    the desk's own list's last entry, not the other list's."""
    code = make_order(event, [ticket], code="SEEN1").positions.get().secret
    r = scan(client, clist, access_code=code)
    assert r.status_code == 201
    r = scan(client, shirts, access_code=code, other_lists=[clist.pk])
    assert r.status_code == 400 and r.data["reason"] == "product" and r.data["list"]["id"] == shirts.pk
    assert r.data["attendee"]["checked_in"] is False
    r = scan(client, clist, access_code=code, other_lists=[shirts.pk])
    assert r.data["reason"] == "already_redeemed" and r.data["attendee"]["checked_in"] is True


@pytest.mark.django_db
def test_a_position_picked_from_a_search_on_several_lists(client, clist, shirts, event, tshirt):
    position = make_order(event, [tshirt], code="PICK1").positions.get()
    r = scan(client, clist, position_id=position.pk, other_lists=[shirts.pk])
    assert r.status_code == 201 and r.data["list"]["id"] == shirts.pk
    r = scan(client, clist, position_id=10 ** 9, other_lists=[shirts.pk])
    assert r.status_code == 404 and r.data["reason"] == "invalid" and not Checkin.all.filter(position=None).exists()


@pytest.mark.django_db(transaction=True)
def test_loaded_candidates_need_the_transaction_that_locked_them(clist, position):
    with pytest.raises(transaction.TransactionManagementError), scopes_disabled():
        desk_scan(checkin_list=clist, access_code=position.secret, candidates=[position])
    assert not Checkin.all.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_lists_are_asked_under_the_orders_lock(clist, event, ticket):
    """The lists are asked after the ticket's order is locked: a scan that waited for
    another transaction of the order decides on what that one wrote. Here it checked the
    ticket in on the desk's list, so the waiting scan goes to the other list."""
    both = CheckinList.objects.create(event=event, name="Everything", all_products=True)
    position = make_order(event, [ticket], code="LOCK1").positions.get()
    outcome = []

    def waiting_scan():
        try:
            with scopes_disabled():
                outcome.append(scan_on_lists(checkin_lists=[clist, both], access_code=position.secret))
        finally:
            connections.close_all()

    with scopes_disabled(), transaction.atomic():
        list(Order.objects.select_for_update().filter(pk=position.order_id).values_list("pk"))
        other = threading.Thread(target=waiting_scan)
        other.start()
        _until_a_transaction_waits_for_a_lock()
        Checkin.objects.create(position=position, list=clist, type=Checkin.TYPE_ENTRY, datetime=now())
    other.join()
    (scanned,) = outcome
    assert scanned.status == "ok" and scanned.checkin_list == both
    with scopes_disabled():
        assert not Checkin.all.filter(successful=False).exists()


def _until_a_transaction_waits_for_a_lock(timeout=10):
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("no transaction waits for the order")


@pytest.mark.django_db
def test_a_retry_stays_on_its_list(client, clist, shirts, event, ticket):
    """A ticket both lists admit, scanned twice with one nonce: one check-in, on one list."""
    both = CheckinList.objects.create(event=event, name="Everything", all_products=True)
    code = make_order(event, [ticket], code="BOTH1").positions.get().secret
    nonce = uuid.uuid4().hex
    first = scan(client, both, access_code=code, other_lists=[clist.pk], nonce=nonce)
    again = scan(client, clist, access_code=code, other_lists=[both.pk], nonce=nonce)
    assert first.status_code == again.status_code == 201
    assert first.data["checkin"]["id"] == again.data["checkin"]["id"]
    assert Checkin.objects.filter(position__secret=code).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("lists", [[999999], ["1"], "1", [True], list(range(1, 30))])
def test_other_lists_must_be_lists_of_the_event(client, clist, other_event, position, lists):
    r = scan(client, clist, access_code=position.secret, other_lists=lists)
    assert r.status_code == 400 and "other_lists" in r.data
    foreign = CheckinList.objects.create(event=other_event, name="Foreign", all_products=True)
    r = scan(client, clist, access_code=position.secret, other_lists=[foreign.pk])
    assert r.status_code == 400 and "other_lists" in r.data
    assert not Checkin.all.exists()


@pytest.mark.django_db
def test_gate_is_recorded_and_a_devices_own_gate_wins(client, clist, organizer, event, ticket):
    hall = Gate.objects.create(organizer=organizer, name="Hall", identifier="hall")
    side = Gate.objects.create(organizer=organizer, name="Side", identifier="side")
    code = make_order(event, [ticket], code="GATE1").positions.get().secret
    assert scan(client, clist, access_code=code, gate="hall").status_code == 201
    assert Checkin.objects.get(position__secret=code).gate == hall

    api, device = device_client(organizer, "full")
    device.gate = side
    device.save()
    code = make_order(event, [ticket], code="GATE2").positions.get().secret
    assert scan(api, clist, access_code=code, gate="hall").status_code == 201
    assert Checkin.objects.get(position__secret=code).gate == side
    assert scan(client, clist, access_code=code, gate="nowhere").status_code == 400


@pytest.mark.django_db
def test_at_most_20_other_lists(client, clist, event, position):
    """docs/desk-api.rst: ``other_lists`` (at most 20)."""
    others = [CheckinList.objects.create(event=event, name=f"Also {i}", all_products=True).pk for i in range(21)]
    r = scan(client, clist, access_code=position.secret, other_lists=others)
    assert r.status_code == 400 and "other_lists" in r.data
    assert not Checkin.all.exists()
    r = scan(client, clist, access_code=position.secret, other_lists=others[:20])
    assert r.status_code == 201 and r.data["list"]["id"] == clist.pk, r.data
