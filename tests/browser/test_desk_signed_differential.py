"""Signed tickets offline (issue 20), against pretix: tickets of an event with pretix's
signed codes (``Sig1TicketSecretGenerator``), sold after the desk's download, answered in
Chromium by the page's own modules (signed.js verifies the code and builds the record from
the head, offline.js answers it) from the download and one incremental sync, and then by
pretix's own ``checkinrpc/redeem``. Each answer must be pretix's, or the "cannot tell offline"
one that docs/offline.rst names: a signature says nothing of payment or of a cancellation
that revoked nothing (the desk admits, "verified by its signature", and the upload shows the
conflict)."""
import datetime
import json
import uuid

import pytest
from django.urls import reverse
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix.base.models import Order, Question
from pretix.base.secrets import Sig1TicketSecretGenerator, assign_ticket_secret
from pretix.base.services.orders import OrderChangeManager, _cancel_order

from tests.conftest import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE = "/static/pretix_desk/desk/"
#: What the desk answers where a signature cannot tell (docs/offline.rst, "Signed tickets"):
#: payment, a cancellation after the last sync.
CANNOT_TELL = "ok"
#: The paid ticket once more: this desk's own queued entry of it answers.
TWICE = "paid, scanned again at this desk"


def preload(client, clist, since=None):
    url = reverse("api-v1:desk-preload", kwargs={
        "organizer": clist.event.organizer.slug, "event": clist.event.slug, "list": clist.pk})
    r = client.get(url, {"since": since} if since else {})
    assert r.status_code == 200
    return json.loads(b"".join(r.streaming_content))


def pretix_answer(client, clist, code, type="entry"):
    r = client.post(
        reverse("api-v1:checkinrpc.redeem", kwargs={"organizer": clist.event.organizer.slug}),
        {"secret": code, "lists": [clist.pk], "type": type, "nonce": uuid.uuid4().hex,
         "questions_supported": True, "canceled_supported": True}, format="json")
    return r.data["status"] if r.data["status"] in ("ok", "incomplete") else r.data["reason"]


def secret_of(order):
    return order.positions.get().secret


def with_window(position, **window):
    """pretix signs a ticket's validity window into its code: a changed window is a new
    code (the old one revoked)."""
    for k, v in window.items():
        setattr(position, k, v)
    position.save(update_fields=list(window))
    assign_ticket_secret(position.order.event, position)
    return position.secret


@pytest.fixture
def door(event, other_event, ticket, tshirt, token_client):
    """A series with a signed-code generator; the list of its first date admits the ticket
    and a workshop that asks a question at check-in."""
    with scopes_disabled():
        event.settings.ticket_secret_generator = "pretix_sig1"
        event.has_subevents = True
        event.save()
        start = now() - datetime.timedelta(hours=1)
        day1 = event.subevents.create(name="Day 1", date_from=start, active=True)
        day2 = event.subevents.create(name="Day 2", date_from=start + datetime.timedelta(days=1), active=True)
        workshop = event.items.create(name="Workshop", default_price=10, admission=True)
        q = Question.objects.create(event=event, question="Dietary needs", type=Question.TYPE_STRING,
                                    required=True, ask_during_checkin=True)
        q.items.add(workshop)
        clist = event.checkin_lists.create(name="Day 1", subevent=day1, all_products=False)
        clist.limit_products.set([ticket, workshop])
        make_order(event, [{"item": ticket, "subevent": day1}], code="BEFORE")  # in the download
        full = preload(token_client, clist)

        def sold(items, **kw):
            return make_order(event, [{"item": i, "subevent": kw.pop("subevent", day1)} for i in items], **kw)

        # name: (code, pretix's answer online, the desk's offline)
        cases = {}
        paid = sold([ticket])
        cases["paid"] = (secret_of(paid), "ok", "ok")
        cases["unpaid"] = (secret_of(sold([ticket], status=Order.STATUS_PENDING)), "unpaid", CANNOT_TELL)
        canceled_before = sold([ticket])
        code = secret_of(canceled_before)
        _cancel_order(canceled_before.pk, send_mail=False)  # pretix revokes the code
        cases["canceled before the sync"] = (code, "revoked", "revoked")
        canceled_after = sold([ticket])
        cases["canceled after the sync"] = (secret_of(canceled_after), "revoked", CANNOT_TELL)
        cases["other product"] = (secret_of(sold([tshirt])), "product", "product")
        cases["other date"] = (secret_of(sold([ticket], subevent=day2)), "invalid", "invalid")
        cases["questions at check-in"] = (secret_of(sold([workshop])), "incomplete", "incomplete")
        cases["not yet valid"] = (with_window(sold([ticket]).positions.get(),
                                              valid_from=now() + datetime.timedelta(days=2)),
                                  "invalid_time", "invalid_time")
        cases["expired"] = (with_window(sold([ticket]).positions.get(),
                                        valid_until=now() - datetime.timedelta(hours=2)),
                            "invalid_time", "invalid_time")
        regenerated = sold([ticket]).positions.get()
        old = regenerated.secret
        assign_ticket_secret(event, regenerated, force_invalidate=True)
        cases["revoked by a regenerated code"] = (old, "revoked", "revoked")
        blocked = sold([ticket])
        ocm = OrderChangeManager(blocked)
        ocm.add_block(blocked.positions.get(), "admin")
        ocm.commit()
        cases["blocked"] = (secret_of(blocked), "blocked", "blocked")
        other_event.settings.ticket_secret_generator = "pretix_sig1"
        cases["signed with another event's key"] = (Sig1TicketSecretGenerator(other_event).generate_secret(
            item=ticket, subevent=day1), "invalid", "invalid")
        good = secret_of(paid)
        cases["a flipped character"] = (good[:20] + ("A" if good[20] != "A" else "B") + good[21:],
                                        "invalid", "invalid")
        delta = preload(token_client, clist, since=full["sync_token"])  # revoked and blocked arrive
        _cancel_order(canceled_after.pk, send_mail=False)
    return {"clist": clist, "full": full, "delta": delta, "cases": cases}


def offline_answers(context, door):
    page = context.new_page()
    page.on("pageerror", lambda err: print("pageerror:", err))
    page.goto(BASE + "desk.css")
    return page.evaluate("""async (arg) => {
        const signed = await import(arg.base + "signed.js");
        const offline = await import(arg.base + "offline.js");
        const head = signed.mergeSigned(signed.mergeSigned(null, arg.full.signed), arg.delta.signed);
        const out = {};
        const queued = [];
        for (const [name, code] of arg.codes) {
            const record = await signed.signedRecord(head, arg.full.salt, code);
            if (!record) { out[name] = "no record"; continue; }
            const mine = queued.filter((q) => q.owner === record.owner);
            const answer = offline.answerScanOffline({record, queued: mine, type: "entry", entries: arg.full.entries,
                now: new Date()});
            out[name] = answer.status === "ok" || answer.status === "incomplete" ? answer.status
                : (answer.reason || answer.status);
            if (answer.status === "ok") {  // queued as the page queues it: this desk's own entry
                queued.push({kind: "scan", owner: record.owner, body: {type: "entry", datetime: new Date().toISOString()}});
            }
        }
        return out;
    }""", {"base": BASE, "full": door["full"], "delta": door["delta"],
           "codes": [(name, case[0]) for name, case in door["cases"].items()] + [(TWICE, door["cases"]["paid"][0])]})


def test_signed_tickets_sold_after_the_download_are_answered_offline_as_pretix_answers(
        context, door, token_client):
    offline = offline_answers(context, door)
    online = {name: pretix_answer(token_client, door["clist"], case[0]) for name, case in door["cases"].items()}
    online[TWICE] = pretix_answer(token_client, door["clist"], door["cases"]["paid"][0])
    expected_online = {name: case[1] for name, case in door["cases"].items()}
    expected_offline = {name: case[2] for name, case in door["cases"].items()}
    expected_online[TWICE] = expected_offline[TWICE] = "already_redeemed"
    # pretix answers as the case says; the desk offline gives that same answer, or the
    # documented one where a signature cannot tell (so a desk that admitted every signed
    # code would fail, and one that refused them all)
    assert online == expected_online
    assert offline == expected_offline
    assert sum(v == CANNOT_TELL and expected_online[k] != CANNOT_TELL for k, v in expected_offline.items()) == 2


def test_an_event_without_signed_codes_answers_as_before(context, event, ticket, token_client):
    with scopes_disabled():
        clist = event.checkin_lists.create(name="Main", all_products=True)
        full = preload(token_client, clist)
    page = context.new_page()
    page.goto(BASE + "desk.css")
    other = Sig1TicketSecretGenerator(event).generate_secret(item=ticket)  # a signed code, but none expected
    result = page.evaluate("""async (arg) => {
        const signed = await import(arg.base + "signed.js");
        const offline = await import(arg.base + "offline.js");
        const record = await signed.signedRecord(signed.mergeSigned(null, arg.full.signed), arg.full.salt, arg.code);
        return {record, answer: offline.answerScanOffline({record, type: "entry", entries: arg.full.entries})};
    }""", {"base": BASE, "full": full, "code": other})
    assert full["signed"] is None and result["record"] is None
    assert result["answer"] == {"status": "unverified", "reason": "not_downloaded"}
