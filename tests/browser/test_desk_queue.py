"""The desk's upload queue in a real browser: items that cannot be uploaded block nothing,
other events' items are left alone, two tabs upload once and show the same queue, and a
schema upgrade in another tab never hangs the page. Each test ends by counting check-ins."""
import time

import pytest

from tests.browser.conftest import login, open_desk
from tests.browser.desk_page_helpers import (
    SCAN, cancel_meanwhile, desk_url, open_desk_without_download, put_queue_items,
    queue_body, queue_item, storage_snapshot,
)
from tests.browser.test_desk_scanning import checkins, result_state, wedge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_poisoned_queue_blocks_nothing(desk_page, desk_data, context):
    page = desk_page
    event = desk_data["event"]
    mine = "pretix_desk:{}:{}".format(event.organizer.slug, event.slug)
    base = "/api/v1/organizers/{}/events/{}/checkinlists/".format(event.organizer.slug, event.slug)
    put_queue_items(page, [
        # another event's desk on this browser queued this: not ours to upload, count or show
        queue_item("pretix_desk:{}:otherconf".format(event.organizer.slug), 999999,
                   "/api/v1/organizers/{}/events/otherconf/checkinlists/999999/desk/".format(event.organizer.slug),
                   "FOREIGNCODE"),
        # a list that was deleted since
        queue_item(mine, 999998, base + "999998/desk/", "DELETEDLIST"),
        # a list nobody knows the address of
        queue_item(mine, 999997, None, "NOADDRESS"),
    ])
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, desk_data["paid"].secret)
    result_state(page, "ok")
    wedge(page, desk_data["second"].secret)
    page.wait_for_selector("body[data-queued='4']")  # this event's items only
    cancel_meanwhile(desk_data["paid"].order)  # meanwhile the office cancels Ada's order: she is inside all the same

    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    parked = page.locator("#desk-refused li")
    assert parked.count() == 2
    texts = parked.all_inner_texts()
    assert any("DELETEDLIST" in t for t in texts)
    assert any("NOADDRESS" in t and "unknown" in t for t in texts)
    assert not any("FOREIGNCODE" in t or "Ada Lovelace" in t for t in texts)
    # pretix records what the door did, as a forced check-in, and the desk says why
    conflict = page.locator("#desk-conflicts li")
    conflict.wait_for()
    assert "Ada Lovelace" in conflict.inner_text() and "Order canceled" in conflict.inner_text()
    assert len(checkins(desk_data["second"], successful=True)) == 1
    (ada,) = checkins(desk_data["paid"])
    assert ada.successful and ada.forced and ada.force_sent

    # dismissed one by one; the other event's item stays for its own desk
    page.locator("#desk-refused li", has_text="NOADDRESS").locator("button").click()
    page.locator("#desk-refused li", has_text="NOADDRESS").wait_for(state="detached")
    queue = [i for i in storage_snapshot(page)["queue"] if i["state"] != "uploaded"]
    # an earlier page's item in clear is sealed by the next upload round; the other event's
    # item is its own desk's to seal (with its own key)
    deleted_list = next(i for i in queue if i["list"] == 999998)
    assert "access_code" not in deleted_list["body"] and "DELETEDLIST" not in str(deleted_list)
    assert sorted(queue_body(event, i)["access_code"] for i in queue) == sorted(["FOREIGNCODE", "DELETEDLIST"])
    foreign = next(i for i in queue if i["body"].get("access_code") == "FOREIGNCODE")
    assert foreign["state"] == "pending" and foreign["attempts"] == 0
    assert page.evaluate("document.activeElement.id") == "desk-input"


def test_two_tabs_share_one_queue_and_upload_it_once(context, desk_data):
    first = context.new_page()
    login(first, desk_data["user"])
    open_desk(first, desk_data)
    second = context.new_page()
    open_desk(second, desk_data)
    uploads = []
    context.on("request", lambda r: uploads.append(r.post_data_json["nonce"])
               if SCAN.search(r.url) and r.method == "POST" else None)

    context.set_offline(True)
    for page in (first, second):
        page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(first, desk_data["paid"].secret)
    result_state(first, "ok")
    second.wait_for_selector("body[data-queued='1']")  # the other tab hears of it
    second.bring_to_front()
    wedge(second, desk_data["paid"].secret)  # the first tab's entry counts here too
    assert "Already used" in result_state(second, "warn")
    wedge(second, desk_data["second"].secret)
    result_state(second, "ok")
    first.wait_for_selector("body[data-queued='3']")  # the refusal is uploaded too

    def slow(route):
        time.sleep(0.3)  # both tabs try to upload while the first upload is still running
        route.continue_()

    context.route(SCAN, slow)
    context.set_offline(False)
    for page in (first, second):
        page.wait_for_selector("body[data-queued='0']", timeout=30000)
    context.unroute(SCAN)
    assert len(uploads) == 3 and len(set(uploads)) == 3
    assert sorted((c.successful, c.error_reason or "") for c in checkins(desk_data["paid"])) == [
        (False, "already_redeemed"), (True, "")]
    assert len(checkins(desk_data["second"])) == 1


def test_an_upgrade_in_another_tab_closes_the_store_and_the_desk_keeps_working(desk_page, desk_data, context):
    page = desk_page
    other = context.new_page()
    other.goto("/static/pretix_desk/desk/desk.css")
    # a newer desk opens the database at a higher version: this page must let go, not block it
    version = other.evaluate("""() => new Promise((ok, ko) => {
        const r = indexedDB.open("pretix-desk", 99);
        r.onsuccess = () => { const v = r.result.version; r.result.close(); ok(v); };
        r.onblocked = () => ok("blocked");
        r.onerror = () => ko(r.error);
    })""")
    assert version == 99
    banner = page.locator("#desk-banner")
    banner.wait_for()
    assert "updated in another tab" in banner.inner_text()
    assert page.get_attribute("#desk-net", "data-state") == "unavailable"
    wedge(page, desk_data["paid"].secret)
    assert "Valid: welcome" in result_state(page, "ok")
    assert len(checkins(desk_data["paid"], successful=True)) == 1


def test_an_old_tab_blocking_the_upgrade_never_hangs_the_page(context, desk_data):
    login_page = context.new_page()
    login(login_page, desk_data["user"])
    login_page.goto("/static/pretix_desk/desk/desk.css")
    # an old desk (database version 1) is open in another tab and ignores upgrade requests
    login_page.evaluate("""() => new Promise((ok) => {
        const r = indexedDB.open("pretix-desk", 1);
        r.onupgradeneeded = () => {
            r.result.createObjectStore("attendees", {keyPath: ["list", "code_hash"]});
            r.result.createObjectStore("meta", {keyPath: "list"});
            r.result.createObjectStore("queue", {keyPath: "seq", autoIncrement: true});
        };
        r.onsuccess = () => { window.oldDesk = r.result; ok(); };
    })""")
    page = context.new_page()
    open_desk_without_download(page, desk_data)
    banner = page.locator("#desk-banner")
    banner.wait_for()
    assert "another tab" in banner.inner_text()
    wedge(page, desk_data["paid"].secret)
    assert "Valid: welcome" in result_state(page, "ok")

    login_page.evaluate("window.oldDesk.close()")  # the old tab goes away
    banner.wait_for(state="hidden")
    page.wait_for_selector("#desk-net[data-state='online']")
    page.wait_for_selector("body[data-last-sync]")  # the page now has its offline copy
    assert page.url.endswith(desk_url(desk_data))
    assert len(checkins(desk_data["paid"], successful=True)) == 1
