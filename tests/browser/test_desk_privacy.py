"""What the desk leaves on a device (docs/offline.rst, "What is stored where"): log out,
remove the downloaded list, and another user opening the desk on the same browser. Each test
ends by counting the server's check-ins."""
import pytest
from django_scopes import scopes_disabled
from pretix.base.models import User

from tests.browser.conftest import (
    PASSWORD, login, open_desk, wait_until_reloadable_offline,
)
from tests.browser.desk_page_helpers import SCAN, desk_url, queue_body, storage_snapshot
from tests.browser.test_desk_scanning import checkins, result_state, wedge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_logout_uploads_first_then_wipes_everything_but_unsent_scans(desk_page, desk_data, context):
    page = desk_page
    wait_until_reloadable_offline(page)
    page.click("#desk-dir-exit")
    page.click("#desk-dir-entry")
    before = storage_snapshot(page)
    assert before["attendees"] == 4 and before["meta"] == 1 and before["login"]
    assert before["local"] and before["caches"] and before["workers"]

    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, desk_data["paid"].secret)
    result_state(page, "ok")
    wedge(page, desk_data["second"].secret)
    page.wait_for_selector("body[data-queued='2']")
    context.set_offline(False)
    # the server takes Ada's scan, but Alan's upload does not get through
    event = desk_data["event"]
    second_nonce = next(i["nonce"] for i in storage_snapshot(page)["queue"]
                        if queue_body(event, i)["access_code"] == desk_data["second"].secret)
    page.route(SCAN, lambda route: (route.abort("connectionreset") if second_nonce in (route.request.post_data or "")
                                    else route.continue_()))
    page.click("#desk-logout")
    # nothing to ask: what could not be uploaded stays sealed for the next login of the event
    banner = page.locator("#desk-banner")
    banner.get_by_text("sealed").wait_for()
    assert "could not be uploaded" in banner.inner_text() and banner.locator("button").count() == 0
    page.wait_for_url(lambda url: "/control/login" in url)
    assert len(checkins(desk_data["paid"], successful=True)) == 1

    after = storage_snapshot(page)
    assert after["attendees"] == 0 and after["meta"] == 0
    assert after["local"] == [] and after["caches"] == [] and after["workers"] == 0
    (kept,) = after["queue"]
    assert "access_code" not in kept["body"] and queue_body(event, kept)["access_code"] == desk_data["second"].secret
    page.goto(desk_url(desk_data))  # logged out of pretix too
    assert "/control/login" in page.url

    # the next login on this browser uploads the scan that was kept, once: the server
    # answered while its upload broke off, so it waits for its next try, or "Retry now"
    page.unroute(SCAN)
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    # listed by time, product and list: this page never saw the name, and none is stored
    failing = page.locator("#desk-failing li")
    failing.wait_for()
    assert "Main" in failing.inner_text() and "Alan" not in failing.inner_text()
    page.click("#desk-failing button.desk-retry")
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert len(checkins(desk_data["paid"])) == 1
    assert len(checkins(desk_data["second"])) == 1
    # kept for a day as uploaded, to know this desk's own check-ins in conflicts
    assert [(queue_body(event, i)["access_code"], i["state"]) for i in storage_snapshot(page)["queue"]] == [
        (desk_data["second"].secret, "uploaded")]


def test_another_user_never_sees_the_previous_users_download(desk_page, desk_data, context):
    page = desk_page
    wedge(page, desk_data["paid"].secret)
    result_state(page, "ok")
    first = storage_snapshot(page)
    assert first["attendees"] == 4
    # something only the first user's download has
    page.evaluate("""() => new Promise((ok) => {
        const r = indexedDB.open("pretix-desk");
        r.onsuccess = () => {
            const tx = r.result.transaction("records", "readwrite");
            tx.objectStore("records").put({list: 424242, prefix: "x", records: {x: {code_hash: "x", owner: 1, attendee: {name: "Secret Person"}}}});
            tx.oncomplete = () => { r.result.close(); ok(); };
        };
    })""")
    page.goto("/control/logout")  # pretix's own logout: the desk's wipe did not run

    with scopes_disabled():
        other = User.objects.create_user("door2@example.org", PASSWORD)
        desk_data["user"].teams.first().members.add(other)
    login(page, other)
    page.goto(desk_url(desk_data))
    page.wait_for_selector("body[data-desk-ready='1']")
    snapshot = storage_snapshot(page)
    assert snapshot["login"] and snapshot["login"] != first["login"]
    assert page.evaluate("""() => new Promise((ok) => {
        const r = indexedDB.open("pretix-desk");
        r.onsuccess = () => {
            const get = r.result.transaction("records").objectStore("records").getAll(IDBKeyRange.bound([424242], [424242, []]));
            get.onsuccess = () => { r.result.close(); ok(get.result.length); };
        };
    })""") == 0
    wedge(page, desk_data["second"].secret)
    assert "Alan Turing" in result_state(page, "ok")
    assert len(checkins(desk_data["paid"], successful=True)) == 1
    assert len(checkins(desk_data["second"], successful=True)) == 1


def test_remove_the_downloaded_list_keeps_the_queue(desk_page, desk_data, context):
    page = desk_page
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, desk_data["grace"].secret)
    result_state(page, "ok")
    page.click("#desk-forget")
    page.wait_for_selector("#desk-count-all:text-is('–')")
    snapshot = storage_snapshot(page)
    assert snapshot["attendees"] == 0 and snapshot["meta"] == 0 and len(snapshot["queue"]) == 1
    assert page.evaluate("document.activeElement.id") == "desk-input"
    # nothing to answer from any more
    wedge(page, desk_data["second"].secret)
    assert "Not in the downloaded list" in result_state(page, "unverified")

    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert storage_snapshot(page)["attendees"] == 0  # not downloaded again behind the user's back
    page.click("#desk-sync")
    page.wait_for_selector("#desk-count-all:text-is('4')")
    assert len(checkins(desk_data["grace"])) == 1
    assert not checkins(desk_data["second"])
