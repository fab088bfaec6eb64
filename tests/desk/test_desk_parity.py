"""Where the desk's live scan answered or recorded differently from pretix's own
``checkinrpc/redeem`` (issue 16, "parity left open"): each case is scanned through both, on
identical tickets, and what they answer and record is compared."""
import uuid

import pytest
from django.utils.timezone import now
from pretix.base.models import Checkin, LogEntry, RevokedTicketSecret

from tests.conftest import make_order

from .conftest import scan


def pretix_redeem(client, clist, code, **extra):
    return client.post(
        f"/api/v1/organizers/{clist.event.organizer.slug}/checkinrpc/redeem/",
        {"secret": code, "lists": [clist.pk], "nonce": uuid.uuid4().hex, "questions_supported": False,
         "canceled_supported": True, **extra},
        format="json",
    )


def revoked_ticket(event, ticket, code, *items):
    order = make_order(event, [ticket, *items], code=code)
    position = order.positions.get(positionid=1)
    RevokedTicketSecret.objects.create(event=event, position=position, secret=code + "-OLD")
    return position, code + "-OLD"


def recorded(position):
    """What pretix recorded for a position, in a form that does not depend on ids."""
    return [(c.successful, c.type, c.forced, c.force_sent, c.error_reason, c.position_id == position.pk)
            for c in Checkin.all.filter(position=position).order_by("pk")]


@pytest.mark.django_db
def test_force_on_a_revoked_code_checks_in_the_ticket_as_pretix_does(client, clist, event, ticket):
    ours, our_code = revoked_ticket(event, ticket, "OURS1")
    theirs, their_code = revoked_ticket(event, ticket, "THEIR")
    r = scan(client, clist, access_code=our_code)
    assert (r.data["reason"], r.data["override"]) == ("revoked", "force")  # offered to who may force
    assert pretix_redeem(client, clist, their_code).data["reason"] == "revoked"
    p = pretix_redeem(client, clist, their_code, force=True)
    r = scan(client, clist, access_code=our_code, force=True)
    assert (r.status_code, r.data["status"]) == (p.status_code, p.data["status"]) == (201, "ok")
    assert recorded(ours) == recorded(theirs)
    assert Checkin.objects.get(position=ours).raw_barcode == our_code


@pytest.mark.django_db
def test_force_on_a_revoked_code_on_a_list_matching_add_ons(client, event, ticket, tshirt):
    shirts = event.checkin_lists.create(name="Shirts", all_products=False, addon_match=True)
    shirts.limit_products.set([tshirt])
    ours, our_code = revoked_ticket(event, ticket, "OURS2", {"item": tshirt, "addon_to": 0})
    theirs, their_code = revoked_ticket(event, ticket, "THER2", {"item": tshirt, "addon_to": 0})
    p = pretix_redeem(client, shirts, their_code, force=True)
    r = scan(client, shirts, access_code=our_code, force=True)
    assert (r.status_code, p.status_code) == (201, 201), (r.data, p.data)
    shirt = ours.order.positions.get(positionid=2)
    assert r.data["attendee"]["position_id"] == shirt.pk
    assert recorded(shirt) == recorded(theirs.order.positions.get(positionid=2))


@pytest.mark.django_db
def test_a_forced_scan_that_is_refused_is_recorded_with_what_was_sent(client, event, ticket, tshirt):
    """An ambiguous code cannot be forced: pretix records the refusal with the force that
    was sent, in the check-in and in the log."""
    shirts = event.checkin_lists.create(name="Shirts", all_products=False, addon_match=True)
    shirts.limit_products.set([tshirt])
    two = [ticket, {"item": tshirt, "addon_to": 0}, {"item": tshirt, "addon_to": 0}]
    ours = make_order(event, two, code="OURS3").positions.get(positionid=1)
    theirs = make_order(event, two, code="THER3").positions.get(positionid=1)
    p = pretix_redeem(client, shirts, theirs.secret, force=True)
    r = scan(client, shirts, access_code=ours.secret, force=True)
    assert r.data["reason"] == p.data["reason"] == "ambiguous"
    logged = {e.parsed_data["position"]: e.parsed_data for e in LogEntry.objects.filter(
        action_type="pretix.event.checkin.denied")}
    (our_log,) = [d for d in logged.values() if d["position"] in ours.order.positions.values_list("pk", flat=True)]
    (their_log,) = [d for d in logged.values() if d["position"] in theirs.order.positions.values_list("pk", flat=True)]
    assert our_log["force"] is their_log["force"] is True
    ours_rec = Checkin.all.get(position__order=ours.order)
    theirs_rec = Checkin.all.get(position__order=theirs.order)
    assert (ours_rec.forced, ours_rec.force_sent) == (theirs_rec.forced, theirs_rec.force_sent)


@pytest.mark.django_db
def test_a_refusal_explained_in_the_orders_language(client, clist, event, ticket):
    """For a desk that attendees use themselves: ``use_order_locale`` as in pretix."""
    event.settings.locales = ["en", "de"]
    future = now().replace(year=now().year + 1)
    codes = []
    for code in ("OURS4", "THER4"):
        order = make_order(event, [ticket], code=code)
        order.locale = "de"
        order.save()
        order.positions.update(valid_from=future)
        codes.append(order.positions.get().secret)
    p = pretix_redeem(client, clist, codes[1], use_order_locale=True)
    r = scan(client, clist, access_code=codes[0], use_order_locale=True)
    assert r.data["reason"] == p.data["reason"] == "invalid_time"
    assert r.data["reason_explanation"] == p.data["reason_explanation"]
    # and without it, in the staff member's language
    english = scan(client, clist, access_code=codes[0])
    assert english.data["reason_explanation"].startswith("This ticket")
    assert r.data["reason_explanation"] != english.data["reason_explanation"]
