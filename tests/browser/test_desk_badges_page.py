"""Badges on the desk page, with pretix's badges plugin: printed automatically on a check-in
or by button (also from a search result), from the PDF pretix's renderer makes. No printer:
an init script spies on the print() of the frame the page prints from."""
import pytest
from django_scopes import scopes_disabled

from tests.browser.conftest import login, open_desk, screenshot
from tests.browser.desk_page_helpers import open_setup
from tests.browser.test_desk_scanning import (
    checkins, result_state, scans_done, settled, wedge,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Every print() of a frame the desk prints a badge from is recorded instead of printing.
PRINT_SPY = """
window.__deskPrints = [];
const frameWindow = Object.getOwnPropertyDescriptor(HTMLIFrameElement.prototype, "contentWindow");
Object.defineProperty(HTMLIFrameElement.prototype, "contentWindow", {
    configurable: true,
    get() {
        const win = frameWindow.get.call(this);
        const frame = this;
        if (win && frame.dataset.deskBadge) {
            win.print = () => {
                window.__deskPrints.push({
                    badge: frame.dataset.deskBadge, src: frame.src, type: win.document.contentType,
                });
                document.body.dataset.testPrints = String(window.__deskPrints.length);
            };
        }
        return win;
    },
});
"""


def prints(page, count):
    """The print() calls so far, once there are count (body[data-test-prints], set by the spy)."""
    page.wait_for_selector("body[data-test-prints='{}']".format(count))
    return page.evaluate("window.__deskPrints")


def active_after_a_moment(page):
    return page.evaluate("new Promise((r) => setTimeout(() => r(document.activeElement.id), 300))")


def test_badge_is_printed_on_check_in_by_button_and_from_a_search(context, desk_data):
    event = desk_data["event"]
    with scopes_disabled():
        event.enable_plugin("pretix.plugins.badges")
        event.save()
    context.add_init_script(PRINT_SPY)
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    pdfs = []
    page.on("response", lambda r: pdfs.append((r.url, r.status, r.headers.get("content-type")))
            if "/desk/badge/" in r.url else None)

    # chosen once on this device: print automatically
    open_setup(page)
    page.select_option("#desk-badges", "auto")
    assert page.evaluate("document.activeElement.id") == "desk-input"
    assert "Print automatically" in page.inner_text("#desk-setup summary")

    paid = desk_data["paid"]
    wedge(page, paid.secret)
    result_state(page, "ok")
    (first,) = prints(page, 1)
    assert first["badge"].endswith("/desk/badge/{}/".format(paid.pk))
    # the frame printed held the PDF (a blob: copy of what the page fetched)
    assert first["src"].startswith("blob:") and first["type"] == "application/pdf"
    # pretix's renderer made it, fetched by the page with its login
    assert pdfs == [(page.url.split("/control/")[0] + first["badge"], 200, "application/pdf")]
    screenshot(page, "desk-badge.png")

    # reprint from the card
    page.click("#desk-card .desk-print-badge")
    second = prints(page, 2)[1]
    assert second["badge"] == first["badge"]
    # the next scan (or search) goes to the code field, not into the badge's frame
    assert active_after_a_moment(page) == "desk-input"
    # only the last badge's frame stays
    assert page.locator("iframe.desk-badge-frame").count() == 1

    # from a search result, without checking in
    page.keyboard.type("Grace", delay=40)
    page.click("#desk-search")
    page.locator(".desk-hit", has_text="Grace Hopper").locator(".desk-hit-badge").click()
    third = prints(page, 3)[2]
    assert third["badge"].endswith("/desk/badge/{}/".format(desk_data["grace"].pk))
    assert "Grace Hopper" in page.inner_text("#desk-card")
    assert not checkins(desk_data["grace"])
    assert active_after_a_moment(page) == "desk-input"

    # by button only: a check-in prints nothing by itself
    open_setup(page)
    page.select_option("#desk-badges", "button")
    done = scans_done(page)
    wedge(page, desk_data["second"].secret)
    result_state(page, "ok")
    page.locator("#desk-card .desk-print-badge").wait_for()
    settled(page, done)
    assert len(page.evaluate("window.__deskPrints")) == 3
    # off: no button either, and it is remembered on this device
    page.select_option("#desk-badges", "off")
    page.reload()
    page.wait_for_selector("body[data-desk-ready='1']")
    assert page.input_value("#desk-badges") == "off"
    assert "Do not print" in page.inner_text("#desk-setup summary")
    page.wait_for_selector("body[data-last-sync]")
    wedge(page, desk_data["grace"].secret)
    result_state(page, "ok")
    settled(page, 0)  # (a fresh page)
    assert page.locator("#desk-card .desk-print-badge").count() == 0
    assert page.evaluate("window.__deskPrints") == []

    assert len(checkins(paid, successful=True)) == 1
    assert len(checkins(desk_data["second"], successful=True)) == 1
    assert len(checkins(desk_data["grace"], successful=True)) == 1
