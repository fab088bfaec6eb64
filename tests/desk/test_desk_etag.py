"""The preload's ETag: cheap to compute (a desk's periodic sync of an unchanged list is a
304), and different after every change a desk must download."""
import datetime
import json

import pytest
from i18nfield.strings import LazyI18nString
from pretix.base.models import Checkin, Order, Question, QuestionAnswer
from pretix.base.services.orders import OrderChangeManager

from tests.conftest import make_order

from .conftest import desk_url, redeem, scan
from .test_desk_preload import by_position, preload


def leaves(record, prefix=""):
    """A record's fields as ``{path: value}``: line items by their id, lists as values."""
    out = {}
    for key, value in record.items():
        path = prefix + key
        if key == "line_items":
            for li in value:
                out.update(leaves(li, f"{path}[{'addon' if li['line_item_id'] != record['attendee']['position_id'] else 'own'}]."))
        elif isinstance(value, dict):
            out.update(leaves(value, path + "."))
        else:
            out[path] = json.dumps(value, sort_keys=True)
    return out


#: Fields of the record no change below moves, and why.
NOT_MOVED_HERE = {
    "attendee.position_id": "an id", "line_items[own].line_item_id": "an id", "line_items[addon].line_item_id": "an id",
    "attendee.product.id": "a product change takes the ticket off this list (the records' own test: "
                           "test_desk_preload)",
    "line_items[own].product.id": "as attendee.product.id", "line_items[addon].product.id": "the add-on's product",
    "attendee.product.name": "the catalog (test_every_input_of_a_record_reaches_the_sync)",
    "line_items[own].product.name": "the catalog", "line_items[addon].product.name": "the catalog",
    "attendee.variation": "the ticket has none",
    "line_items[own].variation": "the ticket has none", "attendee.subevent": "the event is no series",
    "line_items[own].redeemable": "the ticket itself is never handed out",
    "line_items[own].redeemed": "as redeemable", "line_items[own].redeemed_at": "as redeemable",
    "line_items[addon].redeemable": "the list hands the T-shirt out",
    "attendee.order": "an order's code never changes", "index.order": "as attendee.order",
}


@pytest.mark.django_db
def test_etag_changes_with_everything_a_record_shows(client, clist, event, organizer, ticket, tshirt,
                                                     order, position, addon, quota):
    """The ETag is read from the orders' latest modification, revoked codes and deleted
    orders: each kind of change a desk must download shows in it, or a syncing desk would
    keep a stale copy behind a 304. Every field of the attendee's record is moved by one of
    the changes below, or named in NOT_MOVED_HERE with the reason, so that a field added to
    the records without a change that reaches the ETag fails here."""
    diet = Question.objects.create(event=event, question="Diet", type=Question.TYPE_STRING, show_during_checkin=True)
    diet.items.add(ticket)
    QuestionAnswer.objects.create(orderposition=position, question=diet, answer="vegan")
    moved = set()

    def state():
        r = client.get(desk_url(clist, "preload"))
        data = json.loads(b"".join(r.streaming_content))
        rec = by_position(data).get(position.pk)
        return r["ETag"], leaves(rec) if rec else {}

    tag, fields = state()
    seen, everything = [tag], set(fields)

    def changed(what):
        nonlocal fields
        now_tag, now_fields = state()
        assert now_tag not in seen, what
        seen.append(now_tag)
        moved.update(k for k in set(fields) | set(now_fields) if fields.get(k) != now_fields.get(k))
        everything.update(now_fields)
        fields = now_fields

    api = f"/api/v1/organizers/{organizer.slug}/events/{event.slug}"
    scan(client, clist, access_code=position.secret)
    changed("a check-in")
    scan(client, clist, access_code=position.secret, type="exit")
    changed("an exit")
    ci = Checkin.objects.filter(position=position, successful=True).order_by("pk").first()
    ci.nonce = "annul-me"
    ci.save()
    seen.append(state()[0])  # (saving the nonce touched the order too)
    r = client.post(f"/api/v1/organizers/{organizer.slug}/checkinrpc/annul/",
                    {"lists": [clist.pk], "nonce": "annul-me"}, format="json")
    assert r.status_code == 200, r.data
    changed("an annulled check-in (pretix's checkinrpc/annul)")
    redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    changed("a redemption")
    r = client.post(desk_url(clist, "redeem-annul"), {"access_code": position.secret, "line_item_id": addon.pk},
                    format="json")
    assert r.status_code == 200, r.data
    changed("an annulled redemption")
    for what, body in (("a new attendee name", {"attendee_name_parts": {"_legacy": "Grace Hopper"}}),
                       ("a new attendee e-mail", {"attendee_email": "grace@example.org"}),
                       ("a new company", {"company": "Navy"}),
                       ("a validity window", {"valid_until": "2020-01-01T00:00:00Z"}),
                       ("a changed answer", {"answers": [{"question": diet.pk, "answer": "vegetarian"}]})):
        r = client.patch(f"{api}/orderpositions/{position.pk}/", body, format="json")
        assert r.status_code == 200, (what, r.data)
        changed(what)
    fresh = Order.objects.get(pk=order.pk)
    ocm = OrderChangeManager(fresh)
    ocm.change_item(fresh.positions.get(pk=addon.pk), tshirt, tshirt.variations.get(value="S"))
    ocm.commit()
    changed("the add-on's variation changed (pretix's order change)")
    for what, body in (("the order's check-in attention", {"checkin_attention": True}),
                       ("the order's check-in text", {"checkin_text": "Hand over the speaker badge"})):
        r = client.patch(f"{api}/orders/{order.code}/", body, format="json")
        assert r.status_code == 200, (what, r.data)
        changed(what)
    r = client.post(f"{api}/orders/{order.code}/mark_pending/", {}, format="json")
    assert r.status_code == 200, r.data
    changed("an order no longer paid")
    r = client.post(f"{api}/orderpositions/{position.pk}/regenerate_secrets/")
    assert r.status_code == 200, r.data
    changed("a regenerated code")
    other = make_order(event, [ticket], code="NEW01")
    changed("a new order")
    r = client.post(f"{api}/orders/{other.code}/mark_canceled/", {}, format="json")
    assert r.status_code == 200, r.data
    changed("a canceled order")
    test_order = make_order(event, [ticket], code="TEST1", testmode=True)
    changed("a new test mode order")
    r = client.delete(f"{api}/orders/{test_order.code}/")
    assert r.status_code == 204, r.content
    changed("a deleted test mode order (no order left to show a timestamp)")
    clist.allow_multiple_entries = True
    clist.save()
    changed("the list's entry rules")
    assert everything - moved - set(NOT_MOVED_HERE) == set(), "fields no change moved"
    assert moved & set(NOT_MOVED_HERE) == set(), "NOT_MOVED_HERE names a field that moved"


def _preload(client, clist, **headers):
    r = client.get(desk_url(clist, "preload"), **headers)
    return r, (json.loads(b"".join(r.streaming_content)) if r.status_code == 200 else None)


@pytest.mark.django_db
def test_a_late_commit_stamped_before_the_latest_change_is_not_hidden_by_a_304(client, clist, event, ticket):
    """A check-in whose transaction commits after a preload, stamped earlier than another
    order's change that the preload saw: the same sync without If-None-Match sends it (the
    token's overlap), so the ETag must not answer 304."""
    late = make_order(event, [ticket], code="LATE1")
    latest = make_order(event, [ticket], code="LAST1")
    r, data = _preload(client, clist)
    etag = r["ETag"]
    # what the late transaction wrote, with the time it took when it started
    stamp = Order.objects.get(pk=latest.pk).last_modified - datetime.timedelta(seconds=5)
    Checkin.objects.bulk_create([Checkin(position=late.positions.get(), list=clist, datetime=stamp)])
    Order.objects.filter(pk=late.pk).update(last_modified=stamp)

    r2, _ = _preload(client, clist, HTTP_IF_NONE_MATCH=etag)
    assert r2.status_code == 200, "a 304 would hide the late check-in"
    _, incremental = preload(client, clist, since=data["sync_token"])
    assert by_position(incremental)[late.positions.get().pk]["attendee"]["checked_in"] is True


def _edit(obj, **fields):
    for k, v in fields.items():
        setattr(obj, k, v)
    obj.save()


@pytest.mark.django_db
def test_every_input_of_a_record_reaches_the_sync(client, clist, event, organizer, ticket, tshirt, order, position,
                                                  addon):
    """Each input a record shows or decides on, changed: the ETag changes, and the
    incremental sync from the earlier token either re-sends the record with the change or
    refuses the token, so that the desk downloads everything again."""
    diet = Question.objects.create(event=event, question="Diet", type=Question.TYPE_STRING, show_during_checkin=True)
    diet.items.add(ticket)
    QuestionAnswer.objects.create(orderposition=position, question=diet, answer="vegan")
    consent = Question.objects.create(event=event, question="Consent", type=Question.TYPE_BOOLEAN,
                                      ask_during_checkin=True)
    consent.items.add(ticket)
    shirt_m = addon.variation

    def record(data):
        return by_position(data)[position.pk]

    changes = [
        ("the product's name", lambda: _edit(ticket, name="Day pass"),
         lambda rec, head: rec["attendee"]["product"]["name"] == "Day pass"),
        ("the product's check-in text", lambda: _edit(ticket, checkin_text="Give a lanyard"),
         lambda rec, head: "Give a lanyard" in rec["attendee"]["checkin_texts"]),
        ("the product's attention flag", lambda: _edit(ticket, checkin_attention=True),
         lambda rec, head: rec["attendee"]["require_attention"] is True),
        ("the product's reusable-media policy",
         lambda: _edit(ticket, media_policy="new", media_type="barcode"),
         lambda rec, head: rec["entry"] == [["ask", [consent.pk]], ["server", "exchange"]]),
        ("an add-on's name", lambda: _edit(tshirt, name="Hoodie"),
         lambda rec, head: rec["line_items"][1]["product"]["name"] == "Hoodie"),
        ("a variation's name", lambda: _edit(shirt_m, value="Medium"),
         lambda rec, head: rec["line_items"][1]["variation"]["name"] == "Medium"),
        ("a shown question's text", lambda: _edit(diet, question="Food"),
         lambda rec, head: rec["attendee"]["shown_answers"] == [{"question": "Food", "answer": "vegan"}]),
        ("a check-in question's help text", lambda: _edit(consent, help_text="Ask nicely"),
         lambda rec, head: head["questions"][str(consent.pk)]["help_text"] == "Ask nicely"),
        ("the event's time zone", lambda: event.settings.set("timezone", "Asia/Tokyo"),
         lambda rec, head: head["generated_at"].endswith("+09:00")),
    ]
    r, data = _preload(client, clist)
    etag, token = r["ETag"], data["sync_token"]
    for what, change, shows in changes:
        change()
        r, fresh = _preload(client, clist, HTTP_IF_NONE_MATCH=etag)
        assert r.status_code == 200, f"{what}: 304"
        assert shows(record(fresh), fresh), f"{what}: not in a full download"
        r, incremental = preload(client, clist, since=token)
        assert r.status_code == 400 or (
            position.pk in by_position(incremental) and shows(record(incremental), incremental)
        ), f"{what}: the incremental sync neither re-sends it nor refuses the token"
        etag, token = r["ETag"] if r.status_code == 200 else _preload(client, clist)[0]["ETag"], fresh["sync_token"]


@pytest.mark.django_db
def test_the_language_of_the_download_reaches_the_sync(client, clist, ticket, order):
    ticket.name = LazyI18nString({"en": "Ticket", "de": "Eintrittskarte"})
    ticket.save()
    r, data = _preload(client, clist, HTTP_ACCEPT_LANGUAGE="en")
    r_de, data_de = _preload(client, clist, HTTP_ACCEPT_LANGUAGE="de", HTTP_IF_NONE_MATCH=r["ETag"])
    assert r_de.status_code == 200
    assert data_de["attendees"][0]["attendee"]["product"]["name"] == "Eintrittskarte"
    r = client.get(desk_url(clist, "preload"), {"since": data["sync_token"]}, HTTP_ACCEPT_LANGUAGE="de")
    assert r.status_code == 400  # records in two languages cannot be merged
