"""The offline half of the differential test: every ticket state of ``tests.matrix``,
answered by the desk page's own offline logic (``offline.js``, in Chromium) from the list as
the server's preload ships it, against what pretix's own ``checkinrpc/redeem`` answers for
the same ticket afterwards and what the desk answers online for an identical one. Offline
must give the same answer, or an explicit "cannot verify offline"; and it must verify
exactly the cases the matrix says a downloaded list can settle, so that a desk that gave up
on everything would fail too. A case's scan is answered offline as staff would make it:
"check in anyway" chosen, the check-in questions answered, at the time it was made."""
import hashlib
import json
import uuid

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled
from pretix.base.services.orders import OrderChangeManager

from pretix_desk.desk import sealing
from tests.browser.test_desk_scanning import checkins, result_state, wedge
from tests.matrix import (
    CANNOT_VERIFY, build_matrix, desk_extras, outcome, pretix_redeem,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE = "/static/pretix_desk/desk/"


def desk(clist, name):
    return reverse(f"api-v1:desk-{name}", kwargs={
        "organizer": clist.event.organizer.slug, "event": clist.event.slug, "list": clist.pk,
    })


def online_answer(client, case, code):
    r = client.post(desk(case.checkin_list, "scan"), {"access_code": code, "type": case.type,
                                                      "nonce": uuid.uuid4().hex, **desk_extras(case)},
                    format="json")
    return outcome(r.data)


def offline_question(case, record, entries):
    """What the page's offline logic is asked for this case's scan."""
    return {
        "record": record, "type": case.type, "entries": entries,
        "overrides": ["ignore_unpaid"] if case.ignore_unpaid else [],
        "answers": {str(q): a for q, a in (case.answers or {}).items()},
        "now": case.datetime.isoformat() if case.datetime else None,
    }


def test_offline_answers_equal_online_answers(token_client, event, ticket, tshirt, context, live_server):
    matrix = build_matrix(event, ticket, tshirt, copies=2)
    preloads = {}
    for case in matrix.cases:
        cl = case.checkin_list
        if cl.pk not in preloads:
            r = token_client.get(desk(cl, "preload"))
            preloads[cl.pk] = json.loads(b"".join(r.streaming_content))
    questions = []
    for case in matrix.cases:
        data = preloads[case.checkin_list.pk]
        # as the desk finds a scanned code's record: sealed (seal.js), else by the plain hash
        hashes = {sealing.lookup_id(sealing.derive_master(case.codes[0], data["seal"]["salt"]), data["salt"]),
                  hashlib.sha256((data["salt"] + case.codes[0]).encode()).hexdigest()}
        record = next((r for r in data["attendees"] if r["code_hash"] in hashes), None)
        questions.append(offline_question(case, record, data["entries"]))

    page = context.new_page()
    page.goto(BASE + "desk.css")
    offline = page.evaluate("""async (questions) => {
        const offline = await import(%r);
        return questions.map((q) => offline.answerScanOffline({
            ...q, queued: [], now: q.now ? new Date(q.now) : new Date(),
        }));
    }""" % (BASE + "offline.js"), questions)

    mismatches = {}
    for case, answer in zip(matrix.cases, offline):
        pretix = pretix_redeem(token_client, case, case.codes[0])
        online = online_answer(token_client, case, case.codes[1])
        got = CANNOT_VERIFY if answer["status"] == "unverified" else outcome(answer)
        if pretix != case.online or online != case.online or got != case.offline or (
                got is not CANNOT_VERIFY and got != pretix):
            mismatches[case.name] = {"pretix": pretix, "online": online, "offline": got,
                                     "expected": (case.online, case.offline)}
    assert not mismatches, json.dumps(mismatches, indent=1)


def test_a_regenerated_code_is_not_admitted_offline_after_a_sync(desk_page, desk_data, context):
    """pretix's default secret generator keeps no list of revoked codes: once the desk has
    synced, the old code is gone from its download and the new one admits, once."""
    page = desk_page
    position = desk_data["second"]
    old_code = position.secret
    with scopes_disabled():
        ocm = OrderChangeManager(position.order, notify=False)
        ocm.regenerate_secret(position)
        ocm.commit()
        position.refresh_from_db()
    assert position.secret != old_code

    before = page.get_attribute("body", "data-last-sync")
    page.click("#desk-sync")
    page.wait_for_selector(f"body:not([data-last-sync='{before}'])")
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, old_code)
    assert "Cannot verify offline" in result_state(page, "unverified")
    wedge(page, position.secret)
    result_state(page, "ok")
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    done = checkins(position)
    assert len(done) == 1 and done[0].successful
