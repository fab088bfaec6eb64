"""The preload head's ``signed`` part (desk/signed.py): what a desk needs to answer a signed
ticket (pretix_sig1) that its download does not hold. The page's side, against pretix's
answers, is tests/browser/test_desk_signed_differential.py."""
import datetime

import pytest
from pretix.base.models import Checkin, Item
from pretix.base.secrets import Sig1TicketSecretGenerator, assign_ticket_secret
from pretix.base.services.orders import OrderChangeManager

from pretix_desk.desk.codes import code_hash
from tests.conftest import make_order

from .test_desk_preload import preload


@pytest.fixture
def signed_event(event):
    event.settings.ticket_secret_generator = "pretix_sig1"
    return event


def head(client, clist, **params):
    r, data = preload(client, clist, **params)
    assert r.status_code == 200
    return data


@pytest.mark.django_db
def test_an_event_with_random_codes_ships_nothing_signed(client, clist, order, position):
    assert head(client, clist)["signed"] is None


@pytest.mark.django_db
def test_the_keys_are_those_pretixs_event_api_lists(client, token_client, signed_event, clist, ticket):
    make_order(signed_event, [ticket])  # pretix makes the key with the first signed code
    data = head(client, clist)["signed"]
    api = token_client.get(f"/api/v1/organizers/{signed_event.organizer.slug}/events/{signed_event.slug}/")
    assert data["keys"] == api.data["valid_keys"]["pretix_sig1"] and len(data["keys"]) == 1


@pytest.mark.django_db
def test_a_fresh_ticket_is_answered_by_the_steps_pretixs_decision_takes(client, signed_event, clist, ticket, tshirt):
    """Per product and variation: the list's products decide, the ticket's own validity
    window goes where scan_steps puts it, and the questions asked for it are named."""
    clist.all_products = False
    clist.save()
    clist.limit_products.set([ticket])
    data = head(client, clist)["signed"]
    admitted, other = data["tickets"][f"{ticket.pk}-0"], data["tickets"][f"{tshirt.pk}-0"]
    assert admitted["entry"] == [["window", "ticket", None]] and admitted["exit"] == []
    assert admitted["attendee"]["product"] == {"id": ticket.pk, "name": "Ticket"}
    assert other["entry"] == [["window", "ticket", None], ["refuse", Checkin.REASON_PRODUCT]]
    assert other["exit"] == [["refuse", Checkin.REASON_PRODUCT]]
    assert "other_date" not in admitted  # a list of every date


@pytest.mark.django_db
def test_a_list_of_one_date_refuses_the_tickets_of_another(client, signed_event, ticket):
    signed_event.has_subevents = True
    signed_event.save()
    now = datetime.datetime(2026, 12, 7, 10, tzinfo=datetime.timezone.utc)
    first = signed_event.subevents.create(name="Day 1", date_from=now, active=True)
    signed_event.subevents.create(name="Day 2", date_from=now + datetime.timedelta(days=1), active=True)
    clist = signed_event.checkin_lists.create(name="Day 1", subevent=first, all_products=True)
    data = head(client, clist)["signed"]
    kind = data["tickets"][f"{ticket.pk}-0"]
    assert data["subevent"] == first.pk and set(data["dates"]) == {str(s.pk) for s in signed_event.subevents.all()}
    assert kind["entry"] == [["window", "ticket", None]]
    # as pretix's checkinrpc/redeem: it looks codes up among the positions of the list's date
    assert kind["other_date"] == {"entry": [["refuse", "invalid"]], "exit": [["refuse", "invalid"]]}


@pytest.mark.django_db
def test_with_add_on_matching_only_the_server_can_tell(client, signed_event, clist, ticket):
    clist.addon_match = True
    clist.save()
    kind = head(client, clist)["signed"]["tickets"][f"{ticket.pk}-0"]
    assert kind["entry"] == kind["exit"] == [["server", "addons"]]


@pytest.mark.django_db
def test_revoked_and_blocked_codes_are_refused_and_followed_by_each_sync(client, signed_event, clist, ticket):
    order = make_order(signed_event, [ticket, ticket])
    first, second = order.positions.order_by("positionid")
    old_secret = first.secret
    assert Sig1TicketSecretGenerator(signed_event)._parse(old_secret) is not None
    assign_ticket_secret(signed_event, first, force_invalidate=True)  # pretix keeps the old one revoked
    full = head(client, clist)
    salt = full["salt"]
    assert full["signed"]["refused"] == {code_hash(salt=salt, access_code=old_secret): Checkin.REASON_REVOKED}

    ocm = OrderChangeManager(order)
    ocm.add_block(second, "admin")
    ocm.commit()
    second.refresh_from_db()
    blocked = code_hash(salt=salt, access_code=second.secret)
    delta = head(client, clist, since=full["sync_token"])["signed"]  # (the sync overlap sends the revoked again)
    assert delta["refused"][blocked] == Checkin.REASON_BLOCKED and delta["released"] == []
    # the rest is the full download's while the token holds
    assert set(delta) == {"v", "refused", "released"}

    ocm = OrderChangeManager(order)
    ocm.remove_block(second, "admin")
    ocm.commit()
    again = head(client, clist, since=full["sync_token"])["signed"]
    assert blocked not in again["refused"] and again["released"] == [blocked]
    assert blocked not in head(client, clist)["signed"]["refused"]


@pytest.mark.django_db
def test_a_block_changes_the_etag(client, signed_event, clist, ticket):
    order = make_order(signed_event, [ticket])
    r, _ = preload(client, clist)
    from pretix.base.models.orders import BlockedTicketSecret
    BlockedTicketSecret.objects.create(event=signed_event, position=order.positions.get(),
                                       secret=order.positions.get().secret, blocked=True)
    assert client.get(r.request["PATH_INFO"], HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 200


@pytest.mark.django_db
def test_switching_the_generator_or_the_key_needs_a_full_download(client, event, clist, ticket):
    r, full = preload(client, clist)
    event.settings.ticket_secret_generator = "pretix_sig1"
    assert preload(client, clist, since=full["sync_token"])[0].status_code == 400
    r, full = preload(client, clist)
    make_order(event, [ticket])  # the first signed code makes the key
    assert preload(client, clist, since=full["sync_token"])[0].status_code == 400


@pytest.mark.django_db
def test_a_product_made_after_the_download_is_not_in_it(client, signed_event, clist, ticket):
    data = head(client, clist)["signed"]
    late = Item.objects.create(event=signed_event, name="Late", default_price=1)
    assert f"{late.pk}-0" not in data["tickets"]
