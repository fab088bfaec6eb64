"""Signed tickets on the desk page (issue 20): the network is down, the shop sells a ticket,
and a guest shows its signed code at the door. The page verifies it by its signature,
admits it and says so; its own queued entry answers a second scan; a forged code is
refused; and when the network is back pretix records exactly what the door did."""
import time

import pytest
from django_scopes import scopes_disabled

from tests.browser.conftest import login, open_desk, wait_until_reloadable_offline
from tests.browser.desk_page_helpers import PRELOAD, storage_snapshot
from tests.browser.test_desk_scanning import (
    REPEAT_WINDOW, checkins, result_state, wedge,
)
from tests.conftest import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def signed_desk(request, event, context):
    event.settings.ticket_secret_generator = "pretix_sig1"
    data = request.getfixturevalue("desk_data")  # its tickets now have signed codes
    page = context.new_page()
    page.on("pageerror", lambda err: print("pageerror:", page.url, err))
    login(page, data["user"])
    open_desk(page, data)
    return page, data


def admitted_while_offline(page, context, event, ticket, *, code, name):
    """The network goes, the shop sells a ticket, and its signed code is scanned: admitted by
    its signature and queued. Returns the ticket's position."""
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    with scopes_disabled():
        late = make_order(event, [ticket], code=code, name=name).positions.get()
    wedge(page, late.secret)
    text = result_state(page, "ok")
    assert "Ticket" in text and "offline" in text.lower()
    assert "Verified by its signature" in page.inner_text("#desk-note")
    page.wait_for_selector("body[data-queued='1']")
    return late


def test_a_ticket_sold_while_the_door_is_offline_is_admitted_by_its_signature(signed_desk, context, event, ticket):
    page, data = signed_desk
    late = admitted_while_offline(page, context, event, ticket, code="LATE1", name="Lin Late")

    time.sleep(REPEAT_WINDOW)  # the page ignores the same code for 3 s
    wedge(page, late.secret)
    assert "Already used" in result_state(page, "warn")  # this desk's own queued entry
    page.wait_for_selector("body[data-queued='2']")

    forged = late.secret[:30] + ("A" if late.secret[30] != "A" else "B") + late.secret[31:]
    wedge(page, forged)
    assert "Unknown code" in result_state(page, "error")
    queue = storage_snapshot(page)["queue"]
    assert [item["body"]["offline"]["answer"] for item in queue] == ["ok", "error", "error"]
    assert not checkins(late)

    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    (entry,) = checkins(late, successful=True)
    assert entry.nonce == queue[0]["nonce"] and entry.list_id == data["list"].pk
    assert [c.error_reason for c in checkins(late, successful=False)] == ["already_redeemed"]
    with scopes_disabled():
        from pretix.base.models import Checkin
        assert Checkin.all.filter(position=None, successful=False, error_reason="invalid",
                                  list=data["list"]).count() == 1
    # the next sync brought the ticket's own record: the page answers from it now
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    time.sleep(REPEAT_WINDOW)
    wedge(page, late.secret)
    assert "Already used" in result_state(page, "warn")
    assert "Verified by its signature" not in page.inner_text("#desk-note")


def test_what_a_signature_cannot_tell_is_recorded_and_shown_as_a_conflict(signed_desk, context, event, ticket):
    """An unpaid ticket sold while the door is offline: its signature is good, so the desk
    admits it; pretix would have refused it as unpaid, so the upload records the entry as
    forced (the person is inside) and the desk shows the conflict (docs/offline.rst)."""
    from pretix.base.models import Order

    page, data = signed_desk
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    with scopes_disabled():
        unpaid = make_order(event, [ticket], code="UNPD2", name="Una Unpaid", status=Order.STATUS_PENDING)
        unpaid.log_action("pretix.event.order.placed")  # as pretix's shop does: a change after the download
    wedge(page, unpaid.positions.get().secret)
    result_state(page, "ok")
    page.wait_for_selector("body[data-queued='1']")
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    (entry,) = checkins(unpaid.positions.get(), successful=True)
    assert entry.forced and entry.force_sent
    conflict = page.locator("#desk-conflicts li")
    conflict.wait_for()
    assert "admitted offline at" in conflict.inner_text()


def test_an_uploaded_signed_entry_still_counts_when_the_download_after_it_fails(signed_desk, context, event, ticket):
    """A signed ticket's entries at this desk are its scans here (it has no stored record).
    When the network returns, the upload succeeds and the download after it fails, and the
    network goes again, the ticket is not let in a second time: its uploaded scan, kept a
    day, still counts until a sync brings the ticket's record."""
    page, data = signed_desk
    late = admitted_while_offline(page, context, event, ticket, code="LATE2", name="Lou Late")

    page.route(PRELOAD, lambda route: route.abort())  # the download after the upload fails
    rounds = int(page.get_attribute("body", "data-sync-rounds") or 0)
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    page.wait_for_selector("body[data-sync-rounds]:not([data-sync-rounds='{}'])".format(rounds))
    assert len(checkins(late, successful=True)) == 1
    assert [i["state"] for i in storage_snapshot(page)["queue"]] == ["uploaded"]

    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    time.sleep(REPEAT_WINDOW)  # the page ignores the same code for 3 s
    wedge(page, late.secret)
    assert "Already used" in result_state(page, "warn")
    queue = storage_snapshot(page)["queue"]
    assert [(i["state"], i["body"]["offline"]["answer"]) for i in queue] == [("uploaded", "ok"), ("pending", "error")]


NO_WEBCRYPTO_ED25519 = """
    const importKey = SubtleCrypto.prototype.importKey;
    SubtleCrypto.prototype.importKey = function (format, key, algorithm, ...rest) {
        const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
        if (name === "Ed25519") {
            return Promise.reject(new DOMException("Ed25519 is not supported", "NotSupportedError"));
        }
        return importKey.call(this, format, key, algorithm, ...rest);
    };
"""


def test_a_page_reloaded_offline_readies_the_signature_check_before_the_first_scan(signed_desk, context):
    """In a browser without WebCrypto's Ed25519 the page verifies with the vendored code,
    which builds its tables on first use (100 to 250 ms). A page reloaded without network
    gets no download to prepare it with: it prepares it from the kept download's head."""
    page, data = signed_desk
    wait_until_reloadable_offline(page)
    context.add_init_script(NO_WEBCRYPTO_ED25519)
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-desk-ready='1']")
    assert page.evaluate("async () => (await import('/static/pretix_desk/desk/sig1.js')).ed25519Backend()") == "vendored"
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some((e) => e.name.includes('noble-ed25519'))")
