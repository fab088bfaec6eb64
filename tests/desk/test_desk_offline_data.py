"""What the preload ships so that a desk's offline answer is the server's: the steps of
``desk/verdict.py`` per attendee, replacement of regenerated codes, and a 304 in the page's
own sync loop. Fixes of issue 7, each with the case that was wrong before."""
import datetime
import json
import uuid

import pytest
from django.urls import reverse
from django.utils.timezone import now
from pretix.base.models import Checkin, Order

from pretix_desk.models import Redemption
from tests.conftest import make_order

from .conftest import desk_url, redeem, scan
from .test_desk_preload import by_position, hashed, preload


@pytest.mark.django_db
def test_steps_in_pretix_order(client, clist, event, ticket, position):
    soon = now() + datetime.timedelta(hours=1)
    blocked = make_order(event, [ticket], code="BLOCK").positions.get()
    blocked.blocked = ["admin"]
    blocked.valid_from = soon
    blocked.save()
    later = make_order(event, [ticket], code="LATER", status=Order.STATUS_PENDING).positions.get()
    later.valid_from = soon
    later.save()
    unapproved = make_order(event, [ticket], code="APPRV", status=Order.STATUS_PENDING,
                            require_approval=True).positions.get()
    recs = by_position(preload(client, clist)[1])

    # Blocked is checked before the time window: nothing after it is shipped.
    assert recs[blocked.pk]["entry"] == recs[blocked.pk]["exit"] == [["refuse", "blocked"]]
    # The window comes before payment, and exits ignore it.
    entry = recs[later.pk]["entry"]
    assert entry[0][0] == "window" and datetime.datetime.fromisoformat(entry[0][1]) == soon
    assert entry[0][2] is None and entry[1] == ["refuse", "unpaid"]
    assert recs[later.pk]["exit"] == [["refuse", "unpaid"]]
    assert recs[unapproved.pk]["entry"] == [["refuse", "unapproved"]]
    assert recs[unapproved.pk]["redeem"] == "unapproved"


@pytest.mark.django_db
def test_rules_and_media_only_the_server_can_judge(client, clist, ticket, position):
    clist.rules = {"<": [{"var": "entries_number"}, 0]}
    clist.save()
    rec = by_position(preload(client, clist)[1])[position.pk]
    assert rec["entry"] == [["server", "rules"]] and "exit" not in rec
    ticket.media_policy = "reuse"
    ticket.media_type = "nfc_uid"
    ticket.save()
    rec = by_position(preload(client, clist)[1])[position.pk]
    assert rec["entry"] == [["server", "rules"]] and rec["exit"] == [["server", "exchange"]]


@pytest.mark.django_db
def test_addon_match_code_of_several_tickets_is_ambiguous_offline(client, event, ticket, tshirt, position, addon):
    from pretix.base.models import CheckinList
    both = CheckinList.objects.create(event=event, name="Both", all_products=True, addon_match=True)
    recs = by_position(preload(client, both)[1])
    # The ticket's code means the ticket and its T-shirt: pretix picks by the time of the scan.
    assert recs[position.pk]["entry"] == [["server", "ambiguous"]]
    assert "entry" not in recs[addon.pk]


@pytest.mark.django_db
def test_latest_checkin_type_is_shipped(client, clist, position):
    assert scan(client, clist, access_code=position.secret).status_code == 201
    rec = by_position(preload(client, clist)[1])[position.pk]
    assert rec["last"] == "entry" and rec["attendee"]["checked_in"] is True
    assert scan(client, clist, access_code=position.secret, type="exit").status_code == 201
    assert by_position(preload(client, clist)[1])[position.pk]["last"] == "exit"


@pytest.mark.django_db
def test_regenerated_secret_replaces_the_record_of_its_owner(client, token_client, clist, event, order, position):
    """pretix's default secret generator keeps no list of revoked codes: the desk learns of
    a new code only by the record of the same owner arriving with another hash."""
    _, full = preload(client, clist)
    old_hash = by_position(full)[position.pk]["code_hash"]
    r = token_client.post(reverse("api-v1:orderposition-regenerate-secrets", kwargs={
        "organizer": event.organizer.slug, "event": event.slug, "pk": position.pk,
    }))
    assert r.status_code == 200
    position.refresh_from_db()
    _, delta = preload(client, clist, since=full["sync_token"])
    rec = by_position(delta)[position.pk]
    assert rec["attendee"]["position_id"] == position.pk and rec["code_hash"] == hashed(full, position.secret) != old_hash


@pytest.mark.django_db
def test_unchanged_list_answers_304_in_the_sync_loop(client, clist, position):
    """The page syncs with the token and ETag of its last answer; unchanged data is a 304
    although every answer carries a new token."""
    r, full = preload(client, clist)
    token, etag = full["sync_token"], r["ETag"]
    r = client.get(desk_url(clist, "preload"), {"since": token}, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 304
    r, delta = preload(client, clist, since=token)  # a desk that sends no ETag
    assert r.status_code == 200 and r["ETag"] == etag
    r = client.get(desk_url(clist, "preload"), {"since": delta["sync_token"]}, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 304
    scan(client, clist, access_code=position.secret)
    r = client.get(desk_url(clist, "preload"), {"since": token}, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200 and r["ETag"] != etag


@pytest.mark.django_db
def test_redeem_refuses_unpaid_on_a_list_with_pending(client, clist, pending_order):
    clist.include_pending = True
    clist.save()
    parent, shirt = pending_order.positions.order_by("positionid")
    r = redeem(client, clist, access_code=parent.secret, line_item_id=shirt.pk)
    assert r.status_code == 400 and r.data["reason"] == "unpaid"
    assert not Redemption.objects.filter(position=shirt).exists()


@pytest.mark.django_db
def test_unicode_digits_in_list_id_are_404(client, clist):
    base = desk_url(clist, "preload")
    url = base.replace("/checkinlists/%d/" % clist.pk, "/checkinlists/%s/" % "\u00b2")
    assert client.get(url).status_code == 404
    assert client.post(url.replace("preload", "scan"), {"access_code": "x"}, format="json").status_code == 404


@pytest.mark.django_db
def test_scan_by_position_id(client, clist, event, position):
    """What an offline desk queues for a search result: the position, not its code."""
    nonce = uuid.uuid4().hex
    r = scan(client, clist, position_id=position.pk, nonce=nonce)
    assert r.status_code == 201 and r.data["attendee"]["position_id"] == position.pk
    again = scan(client, clist, position_id=position.pk, nonce=nonce)
    assert again.status_code == 201 and again.data["checkin"]["id"] == r.data["checkin"]["id"]
    assert Checkin.objects.filter(position=position).count() == 1
    assert scan(client, clist, position_id=position.pk).data["reason"] == "already_redeemed"


@pytest.mark.django_db
def test_scan_by_position_id_of_another_event_writes_nothing(client, clist, other_event):
    item = other_event.items.create(name="Other ticket", default_price=1, admission=True)
    other = make_order(other_event, [item], code="OTHER").positions.get()
    before = Checkin.all.count()
    r = scan(client, clist, position_id=other.pk, nonce="n1")
    assert r.status_code == 404 and r.data["reason"] == "invalid"
    assert Checkin.all.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    {}, {"access_code": "abc", "position_id": 1}, {"position_id": "1"}, {"position_id": True},
    {"position_id": 0}, {"position_id": 2**40},
])
def test_scan_needs_exactly_one_valid_target(client, clist, body):
    before = Checkin.all.count()
    r = scan(client, clist, **body)
    assert r.status_code == 400
    assert set(json.loads(r.content)) & {"access_code", "position_id"}
    assert Checkin.all.count() == before
