"""The desk page in a real browser: scanning online, add-ons, search, offline and camera."""
import time

import pytest
from django_scopes import scopes_disabled
from pretix.base.models import Checkin

from pretix_desk.models import Redemption
from tests.browser.conftest import (
    launch_chromium, login, new_context, open_desk, screenshot,
    wait_until_reloadable_offline,
)
from tests.browser.desk_page_helpers import cancel_meanwhile
from tests.browser.media import qr_frame, write_y4m

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPEAT_WINDOW = 3.2  # the page ignores the same code for 3 s


def wedge(page, code, enter=True):
    """Type like a USB scanner: fast keystrokes into whatever has focus, no click."""
    page.keyboard.type(code)
    if enter:
        page.keyboard.press("Enter")


def scans_done(page):
    """How many scans the page is done with (body[data-scans], actions.js)."""
    return int(page.get_attribute("body", "data-scans") or 0)


def settled(page, done):
    """Wait until the page is done with the scan after ``done`` earlier ones: answered,
    queued and its override offered or not. What may follow it has then happened."""
    page.wait_for_selector("body[data-scans='{}']".format(done + 1))


def result_state(page, state):
    page.wait_for_selector("#desk-result[data-state='{}']".format(state))
    return page.inner_text("#desk-result")


def checkins(position, **kwargs):
    with scopes_disabled():
        return list(Checkin.all.filter(position=position, **kwargs))


def test_wedge_scan_valid_then_already_used(desk_page, desk_data):
    page = desk_page
    code = desk_data["paid"].secret

    wedge(page, code)
    text = result_state(page, "ok")
    assert "Valid" in text
    assert "Ada Lovelace" in text
    assert "Ticket" in text
    ok = checkins(desk_data["paid"], successful=True)
    assert len(ok) == 1 and ok[0].list_id == desk_data["list"].pk and ok[0].type == "entry"
    page.wait_for_selector("#desk-count-in:text-is('1')")
    screenshot(page, "desk-valid.png")

    time.sleep(REPEAT_WINDOW)
    wedge(page, code, enter=False)  # some scanners send no Enter: the idle gap submits
    text = result_state(page, "warn")
    assert "Already used at" in text
    assert len(checkins(desk_data["paid"], successful=True)) == 1
    # the card still offers the add-ons of someone who is already inside
    page.locator("#desk-card button.desk-handout").wait_for()
    screenshot(page, "desk-already-used.png")


def test_repeat_scan_within_window_is_not_sent(desk_page, desk_data):
    page = desk_page
    code = desk_data["second"].secret
    wedge(page, code)
    result_state(page, "ok")
    wedge(page, code)
    page.wait_for_selector("#desk-note:has-text('scanned again')")
    assert page.get_attribute("#desk-result", "data-state") == "ok"
    assert len(checkins(desk_data["second"])) == 1


def test_unpaid_ticket_is_red(desk_page, desk_data):
    page = desk_page
    wedge(page, desk_data["unpaid"].secret)
    text = result_state(page, "error")
    assert "Not paid" in text
    assert "Charles Babbage" in text
    assert not checkins(desk_data["unpaid"], successful=True)
    screenshot(page, "desk-not-paid.png")


def test_unknown_code_is_red(desk_page, desk_data):
    wedge(desk_page, "nosuchticketcode1234567890")
    assert "Unknown code" in result_state(desk_page, "error")


def test_hand_out_addon(desk_page, desk_data):
    page = desk_page
    wedge(page, desk_data["paid"].secret)
    result_state(page, "ok")
    card = page.locator("#desk-card")
    card.locator("text=T-shirt").wait_for()
    button = card.locator("button.desk-handout")
    assert button.count() == 1
    button.click()
    card.locator(".desk-handed:has-text('Handed out at')").wait_for()
    with scopes_disabled():
        assert Redemption.objects.filter(position=desk_data["addon"]).count() == 1
    screenshot(page, "desk-addons.png")
    # focus went back to the code input: the next scan needs no click
    assert page.evaluate("document.activeElement.id") == "desk-input"


def test_search_and_check_in_by_click(desk_page, desk_data):
    page = desk_page
    page.keyboard.type("Grace", delay=60)  # a person typing, not a scanner
    page.click("#desk-search")
    hit = page.locator(".desk-hit", has_text="Grace Hopper")
    hit.wait_for()
    screenshot(page, "desk-search.png")
    hit.locator("button.desk-hit-checkin").click()
    assert "Grace Hopper" in result_state(page, "ok")
    assert len(checkins(desk_data["grace"], successful=True)) == 1


def test_exit_scan(desk_page, desk_data):
    page = desk_page
    page.click("#desk-dir-exit")
    wedge(page, desk_data["second"].secret)
    assert "Exit recorded" in result_state(page, "ok")
    assert [c.type for c in checkins(desk_data["second"])] == ["exit"]


def test_offline_scans_are_answered_from_preload_and_synced_once(desk_page, desk_data, context):
    page = desk_page
    # paid, second, Grace and the unpaid one (which the server's steps refuse offline)
    assert page.inner_text("#desk-count-all") == "4"
    wait_until_reloadable_offline(page)
    context.set_offline(True)
    page.wait_for_selector("#desk-net.desk-net--offline")

    wedge(page, desk_data["paid"].secret)
    text = result_state(page, "ok")
    assert "offline" in text.lower() and "Ada Lovelace" in text
    screenshot(page, "desk-offline.png")
    page.locator("#desk-card button.desk-handout").click()  # hand out the T-shirt offline
    page.locator("#desk-card .desk-handed").wait_for()
    time.sleep(REPEAT_WINDOW)
    wedge(page, desk_data["paid"].secret)
    assert "Already used" in result_state(page, "warn")  # from the local queue
    wedge(page, desk_data["second"].secret)
    result_state(page, "ok")
    wedge(page, desk_data["unpaid"].secret)
    text = result_state(page, "error")  # refused offline with the server's reason
    assert "Not paid" in text and "Answered offline" in text
    # admissions, the hand-out and the two refusals: pretix records what the door did
    page.wait_for_selector("body[data-queued='5']")
    assert page.inner_text("#desk-count-queue") == "5"
    assert not checkins(desk_data["paid"]) and not checkins(desk_data["second"])

    # the queue survives a reload without network
    page.reload()
    page.wait_for_selector("body[data-desk-ready='1']")
    page.wait_for_selector("body[data-queued='5']")

    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    page.wait_for_selector("#desk-net.desk-net--online")
    assert len(checkins(desk_data["paid"], successful=True)) == 1
    assert [c.error_reason for c in checkins(desk_data["paid"], successful=False)] == ["already_redeemed"]
    assert len(checkins(desk_data["second"], successful=True)) == 1
    assert [(c.successful, c.error_reason) for c in checkins(desk_data["unpaid"])] == [(False, "unpaid")]
    with scopes_disabled():
        assert Redemption.objects.filter(position=desk_data["addon"]).count() == 1
    # the check-ins carry the time of the scan, not of the upload
    with scopes_disabled():
        assert checkins(desk_data["paid"], successful=True)[0].datetime < desk_data["second"].checkins.get().datetime
    # uploading again (e.g. another sync) changes nothing, and nothing was refused or collided
    page.evaluate("window.pretixDesk.syncNow()")
    assert len(checkins(desk_data["paid"])) == 2
    assert page.locator("#desk-refused").is_hidden()
    assert page.locator("#desk-conflicts").is_hidden()


def test_upload_meeting_a_change_since_the_download_is_recorded_and_shown_as_a_conflict(
        desk_page, desk_data, context):
    page = desk_page
    context.set_offline(True)
    page.wait_for_selector("#desk-net.desk-net--offline")
    wedge(page, desk_data["paid"].secret)
    result_state(page, "ok")
    wedge(page, desk_data["second"].secret)
    page.wait_for_selector("body[data-queued='2']")
    cancel_meanwhile(desk_data["paid"].order)  # meanwhile the office cancels Ada's order
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    conflicts = page.locator("#desk-conflicts")
    conflicts.wait_for()
    text = conflicts.inner_text()
    assert "Ada Lovelace" in text and "Order canceled" in text and "forced check-in" in text
    assert page.locator("#desk-refused").is_hidden()  # nothing set aside: she is inside
    (ada,) = checkins(desk_data["paid"])
    assert ada.successful and ada.forced
    assert len(checkins(desk_data["second"], successful=True)) == 1
    screenshot(page, "desk-refused-upload.png")
    conflicts.locator("button").click()  # dismissed by the staff
    conflicts.wait_for(state="hidden")


def test_timed_out_scan_is_queued_with_the_same_nonce_and_counts_once(desk_page, desk_data):
    """The server got the scan but the answer came too late: the desk answers offline and
    uploads it later with the same nonce, which the server recognises."""
    page = desk_page
    page.evaluate("import('/static/pretix_desk/desk/api.js').then((m) => { m.TIMEOUTS.scan = 400; })")
    sent = []

    def slow(route):
        sent.append(route.request.post_data_json["nonce"])
        response = route.fetch()  # the server records the check-in...
        time.sleep(1.0)  # ...but the answer arrives after the desk gave up
        try:
            route.fulfill(response=response)
        except Exception:
            pass

    page.route("**/desk/scan/", slow)
    wedge(page, desk_data["second"].secret)
    text = result_state(page, "ok")
    assert "offline" in text.lower()
    page.wait_for_selector("body[data-queued='1']")
    assert len(checkins(desk_data["second"], successful=True)) == 1
    page.unroute("**/desk/scan/")
    uploaded = []
    page.on("request", lambda r: uploaded.append(r.post_data_json["nonce"]) if r.url.endswith("/desk/scan/") else None)
    page.evaluate("window.pretixDesk.syncNow()")
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert uploaded == sent
    assert len(checkins(desk_data["second"])) == 1
    assert page.locator("#desk-refused").is_hidden()


def test_phone_layout(browser, live_server, desk_data):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US")
    try:
        page = context.new_page()
        login(page, desk_data["user"])
        open_desk(page, desk_data)
        wedge(page, desk_data["paid"].secret)
        result_state(page, "ok")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing sticks out sideways
        screenshot(page, "desk-phone.png")
    finally:
        context.close()


def test_reload_while_offline_opens_the_page(context, desk_data):
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    wait_until_reloadable_offline(page)
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-desk-ready='1']")
    assert "Registration desk" in page.title()
    page.wait_for_selector("#desk-net.desk-net--offline")
    wedge(page, desk_data["grace"].secret)
    assert "Grace Hopper" in result_state(page, "ok")


def test_camera_scan(playwright_instance, live_server, desk_data, tmp_path):
    video = tmp_path / "ticket.y4m"
    write_y4m(video, qr_frame(desk_data["second"].secret))
    browser = launch_chromium(
        playwright_instance,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        "--use-file-for-fake-video-capture=" + str(video),
    )
    try:
        context = new_context(browser, live_server)
        page = context.new_page()
        login(page, desk_data["user"])
        open_desk(page, desk_data)
        page.click("#desk-camera")
        page.wait_for_selector("body[data-camera='on']")
        assert "Alan Turing" in result_state(page, "ok")
        # the ticket stays in front of the camera: reported once, not "already used" later
        # a wait on elapsed time itself: the repeat window must pass with the ticket still seen
        page.wait_for_timeout(REPEAT_WINDOW * 1000 + 1000)
        assert page.get_attribute("#desk-result", "data-state") == "ok"
        assert len(checkins(desk_data["second"])) == 1
    finally:
        browser.close()
