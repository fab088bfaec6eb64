"""The desk page's answers and connectivity in a real browser: without IndexedDB, when the
network drops during a download, focus after using a control, what an answer says, and
checking in an offline search result. Each test ends by counting the server's check-ins."""
import time

import pytest
from django_scopes import scopes_disabled
from pretix.base.models import CheckinList, Order

from tests.browser.conftest import login, open_desk, wait_until_reloadable_offline
from tests.browser.desk_page_helpers import (
    PRELOAD, SCAN, open_desk_without_download, storage_snapshot,
)
from tests.browser.test_desk_scanning import (
    REPEAT_WINDOW, checkins, result_state, wedge,
)
from tests.conftest import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_INDEXEDDB = {
    # the property is gone (some embedded browsers)
    "missing": "Object.defineProperty(window, 'indexedDB', {value: undefined, configurable: true});",
    # open() fails, as in private windows that refuse storage
    "refused": """
        IDBFactory.prototype.open = function () {
            const request = {};
            setTimeout(() => {
                request.error = new DOMException("storage refused", "InvalidStateError");
                if (request.onerror) request.onerror({target: request});
            }, 10);
            return request;
        };
    """,
}


def header(page):
    return page.get_attribute("#desk-net", "data-state"), page.inner_text("#desk-net")


@pytest.mark.parametrize("how", sorted(NO_INDEXEDDB))
def test_without_indexeddb_scans_go_to_the_server_and_the_page_says_offline_mode_is_unavailable(
        context, desk_data, how):
    context.add_init_script(NO_INDEXEDDB[how])
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk_without_download(page, desk_data)
    page.wait_for_selector("#desk-net[data-state='unavailable']")
    assert "Offline mode is unavailable on this browser" in page.inner_text("#desk-net")

    wedge(page, desk_data["paid"].secret)
    assert "Valid: welcome" in result_state(page, "ok")
    wedge(page, desk_data["unpaid"].secret)
    assert "Not paid" in result_state(page, "error")

    # no network and no offline copy: the scan is answered, and not as "valid" or "unknown"
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    assert "offline mode is unavailable" in page.inner_text("#desk-net")
    wedge(page, desk_data["second"].secret)
    assert "No connection" in result_state(page, "error")
    context.set_offline(False)
    page.wait_for_selector("#desk-net[data-state='unavailable']")
    time.sleep(REPEAT_WINDOW)
    wedge(page, desk_data["second"].secret)
    assert "Valid: welcome" in result_state(page, "ok")

    assert len(checkins(desk_data["paid"], successful=True)) == 1
    assert len(checkins(desk_data["second"], successful=True)) == 1
    assert not checkins(desk_data["unpaid"], successful=True)


def test_header_never_says_online_while_scans_are_answered_offline(desk_page, desk_data, context):
    """The network drops while the background download streams: the header follows at
    once and stays with it, and so do the answers."""
    page = desk_page
    held = []

    def hold(route):
        held.append(route)
        # marks the page, for the test to wait on: the handler runs as a task of its own
        page.evaluate("document.body.dataset.testHeld = '1'")

    page.route(PRELOAD, hold)
    page.click("#desk-sync")
    page.wait_for_selector("body[data-test-held='1']")  # the download started, and is held
    assert header(page)[0] == "syncing"
    rounds = int(page.get_attribute("body", "data-sync-rounds") or 0)
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    # the connection breaks in the middle of the document
    held[0].fulfill(status=200, content_type="application/json", body='{"list": 1, "attendees": [{"code_')
    page.wait_for_selector("body[data-sync-rounds='{}']".format(rounds + 1))  # that round is over
    assert header(page)[0] == "offline"
    page.unroute(PRELOAD)

    wedge(page, desk_data["second"].secret)
    assert "offline" in result_state(page, "ok").lower()
    assert header(page) == ("offline", "Offline: answers come from the downloaded list")
    page.wait_for_selector("body[data-queued='1']")

    # the server is back (the browser never said it was gone): a request that fails makes
    # the desk offline at once, any answer makes it online
    context.set_offline(False)
    page.wait_for_selector("#desk-net[data-state='online']", timeout=30000)
    page.wait_for_selector("body[data-queued='0']")
    page.route(SCAN, lambda route: route.abort("connectionreset"))
    time.sleep(REPEAT_WINDOW)
    wedge(page, desk_data["paid"].secret)
    text = result_state(page, "ok")
    assert "offline" in text.lower()
    assert header(page)[0] == "offline"
    page.unroute(SCAN)
    page.evaluate("window.pretixDesk.syncNow()")
    page.wait_for_selector("#desk-net[data-state='online']")
    page.wait_for_selector("body[data-queued='0']")
    assert len(checkins(desk_data["second"], successful=True)) == 1
    assert len(checkins(desk_data["paid"], successful=True)) == 1


def test_picking_a_list_or_using_a_control_sends_the_next_scan_to_the_code_field(context, desk_data):
    with scopes_disabled():
        hall = CheckinList.objects.create(event=desk_data["event"], name="Hall", all_products=True)
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk_without_download(page, desk_data)
    # no list chosen yet: a scan is answered, not lost
    wedge(page, desk_data["grace"].secret)
    assert "Choose the check-in list" in result_state(page, "error")

    page.focus("#desk-list")
    page.select_option("#desk-list", str(hall.pk))
    wedge(page, desk_data["paid"].secret)
    assert "Ada Lovelace" in result_state(page, "ok")
    assert page.input_value("#desk-list") == str(hall.pk)

    # a scan while the drop-down has the focus neither vanishes nor switches the list
    page.focus("#desk-list")
    wedge(page, desk_data["second"].secret)
    assert "Alan Turing" in result_state(page, "ok")
    assert page.input_value("#desk-list") == str(hall.pk)

    for control in ["#desk-sound", "#desk-dir-exit", "#desk-dir-entry", "#desk-sync"]:
        page.click(control)
        assert page.evaluate("new Promise((r) => setTimeout(() => r(document.activeElement.id), 20))") == "desk-input"
    wedge(page, desk_data["grace"].secret)
    assert "Grace Hopper" in result_state(page, "ok")

    for position in ("paid", "second", "grace"):
        done = checkins(desk_data[position], successful=True)
        assert [c.list_id for c in done] == [hall.pk], position
    assert len(checkins(desk_data["grace"])) == 1  # the scan without a list was never sent


def test_an_answer_says_only_what_belongs_to_it(desk_page, desk_data, context):
    page = desk_page
    wedge(page, desk_data["paid"].secret)
    result_state(page, "ok")
    wedge(page, desk_data["paid"].secret)
    page.wait_for_selector("#desk-note:has-text('scanned again')")
    wedge(page, desk_data["second"].secret)
    page.wait_for_selector("#desk-result[data-state='ok'] :text('Alan Turing')")
    assert page.inner_text("#desk-note") == ""

    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, desk_data["unpaid"].secret)
    text = result_state(page, "error")
    assert "Not paid" in text and "Answered offline" in text
    context.set_offline(False)
    page.wait_for_selector("#desk-net[data-state='online']", timeout=30000)
    page.wait_for_selector("body[data-queued='0']")
    # the answer was given offline (that stays true); it does not claim the desk still is
    text = page.inner_text("#desk-result")
    assert "Answered offline" in text and "Offline:" not in text
    assert len(checkins(desk_data["paid"], successful=True)) == 1
    assert len(checkins(desk_data["second"], successful=True)) == 1
    # the refusal given offline is pretix's record of a failed scan
    assert [(c.successful, c.error_reason) for c in checkins(desk_data["unpaid"])] == [(False, "unpaid")]


def test_code_not_in_the_download_cannot_be_verified_offline(desk_page, desk_data, context):
    page = desk_page
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, "nosuchticketcode1234567890")
    text = result_state(page, "unverified")
    assert "Cannot verify offline" in text and "Not in the downloaded list" in text
    assert page.get_attribute("body", "data-queued") == "0"
    context.set_offline(False)
    page.wait_for_selector("#desk-net[data-state='online']", timeout=30000)
    assert page.get_attribute("body", "data-queued") == "0"


def test_offline_search_result_is_checked_in_and_uploaded_once(desk_page, desk_data, context):
    page = desk_page
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")

    def search_grace():
        page.keyboard.type("Grace", delay=40)
        page.click("#desk-search")
        hit = page.locator(".desk-hit", has_text="Grace Hopper")
        hit.wait_for()
        return hit

    hit = search_grace()
    assert "downloaded list" in page.inner_text("#desk-results")
    hit.locator("button.desk-hit-checkin").click()
    text = result_state(page, "ok")
    assert "Grace Hopper" in text and "offline" in text.lower()
    page.wait_for_selector("body[data-queued='1']")
    # the same person again: the queued entry counts (and the refusal is queued for pretix too)
    search_grace().locator("button.desk-hit-checkin").click()
    assert "Already used" in result_state(page, "warn")
    page.wait_for_selector("body[data-queued='2']")
    item, refusal = storage_snapshot(page)["queue"]
    assert item["body"]["position_id"] == desk_data["grace"].pk
    assert "access_code" not in item["body"] and item["body"]["type"] == "entry"
    assert item["body"]["offline"]["answer"] == "ok"
    assert refusal["body"]["offline"]["answer"] == "error" and refusal["body"]["offline"]["reason"] == "already_redeemed"
    assert not checkins(desk_data["grace"])

    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert page.locator("#desk-refused").is_hidden()
    (done,) = checkins(desk_data["grace"], successful=True)
    assert done.list_id == desk_data["list"].pk and done.nonce == item["nonce"]
    assert [c.error_reason for c in checkins(desk_data["grace"], successful=False)] == ["already_redeemed"]


def test_offline_answers_come_from_the_servers_steps_after_a_reload(desk_page, desk_data, context):
    """An unpaid ticket in the download is refused offline with the server's reason, also in
    a fresh page; a paid one is admitted once."""
    page = desk_page
    wait_until_reloadable_offline(page)
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-desk-ready='1']")
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, desk_data["unpaid"].secret)
    assert "Not paid" in result_state(page, "error")
    wedge(page, desk_data["second"].secret)
    result_state(page, "ok")
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    open_desk(page, desk_data)
    assert len(checkins(desk_data["second"], successful=True)) == 1
    assert [(c.successful, c.error_reason) for c in checkins(desk_data["unpaid"])] == [(False, "unpaid")]


def test_check_in_anyway_for_an_unpaid_order_online_and_offline(desk_page, desk_data, context):
    """On a list that includes pending orders, an unpaid ticket is refused with the offer to
    check in anyway; online and offline alike, choosing it checks in once."""
    with scopes_disabled():
        clist = desk_data["list"]
        clist.include_pending = True
        clist.save()
        second_unpaid = make_order(desk_data["event"], [clist.limit_products.first()], code="UNPD2",
                                   status=Order.STATUS_PENDING, name="Ada Byron")
        second_unpaid = second_unpaid.positions.get()
    page = desk_page
    page.click("#desk-sync")  # the list changed: download it again
    page.wait_for_selector("#desk-count-all:text-is('5')")

    wedge(page, desk_data["unpaid"].secret)
    assert "Not paid" in result_state(page, "error")
    page.click("#desk-result-actions button:has-text('Check in anyway')")
    assert "Charles Babbage" in result_state(page, "ok")

    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, second_unpaid.secret)
    text = result_state(page, "error")
    assert "Not paid" in text and "Answered offline" in text
    page.click("#desk-result-actions button:has-text('Check in anyway')")
    # the refusal queued for pretix's record lets nobody in: it does not count as an entry
    assert "offline" in result_state(page, "ok").lower()
    page.wait_for_selector("body[data-queued='2']")
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert page.locator("#desk-refused").is_hidden()
    for position in (desk_data["unpaid"], second_unpaid):
        assert len(checkins(position, successful=True)) == 1
    assert [c.error_reason for c in checkins(second_unpaid, successful=False)] == ["unpaid"]
