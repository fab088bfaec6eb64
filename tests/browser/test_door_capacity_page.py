"""A capacity at the door, in a real browser: the manager sets it on the Door page, a desk
refuses the next entry as full (staff may still check in anyway), an exit frees the place,
an offline desk admits and says it cannot verify the capacity, and the queued scan is
recorded when it is back; the manager removes the capacity again."""
import pytest
from django_scopes import scopes_disabled
from pretix.base.models import Checkin

from tests.browser.conftest import open_desk
from tests.browser.test_desk_scanning import result_state, wedge
from tests.browser.test_door_page import door_url, logged_in_page, next_refresh

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_full_door_refuses_and_an_offline_desk_says_it_cannot_verify(browser, live_server, desk_data):
    clist = desk_data["list"]
    manager_context, manager = logged_in_page(browser, live_server, desk_data["user"], "door")
    desk_context, desk = logged_in_page(browser, live_server, desk_data["user"], "desk")
    open_desk(desk, desk_data)
    try:
        wedge(desk, desk_data["paid"].secret)
        result_state(desk, "ok")

        manager.goto(door_url(desk_data))
        manager.wait_for_selector("body[data-door-refreshed]")
        assert "No capacity" in manager.inner_text("#door-capacities")
        manager.select_option("#door-capacity-list", str(clist.pk))
        manager.select_option("#door-capacity-gate", "")
        manager.fill("#door-capacity-value", "1")
        manager.click("#door-capacity-form button[type=submit]")
        manager.wait_for_selector(f"#door-capacities li[data-capacity-list='{clist.pk}']")
        next_refresh(manager)
        row = manager.locator(f"#door-lists tr[data-list='{clist.pk}']")
        assert row.locator("[data-field='capacity']").inner_text() == "1 of 1 (full)"
        assert "danger" in row.get_attribute("class")

        # the next entry is refused as full, with the choice to check in anyway
        wedge(desk, desk_data["second"].secret)
        text = result_state(desk, "error")
        assert "Full" in text and "1 of 1" in text
        with scopes_disabled():
            assert not Checkin.objects.filter(position=desk_data["second"], successful=True).exists()

        # Ada leaves: the place is free, Alan gets in
        desk.click("#desk-dir-exit")
        wedge(desk, desk_data["paid"].secret)
        result_state(desk, "ok")
        desk.click("#desk-dir-entry")
        wedge(desk, desk_data["second"].secret)
        result_state(desk, "ok")

        # offline the desk cannot count who is inside: it admits and says so
        desk.evaluate("window.pretixDesk.syncNow()")
        desk_context.set_offline(True)
        desk.wait_for_selector("#desk-net[data-state='offline']")
        wedge(desk, desk_data["grace"].secret)
        result_state(desk, "ok")
        assert "cannot be verified offline" in desk.inner_text("#desk-note")
        desk_context.set_offline(False)
        desk.wait_for_selector("body[data-queued='0']", timeout=30000)
        with scopes_disabled():
            assert Checkin.objects.filter(position=desk_data["grace"], successful=True).count() == 1

        # the manager removes the capacity
        manager.locator(f"#door-capacities li[data-capacity-list='{clist.pk}'] button").click()
        manager.wait_for_selector("#door-capacities li:not([data-capacity-list])")
        assert "No capacity" in manager.inner_text("#door-capacities")
    finally:
        desk_context.close()
        manager_context.close()
