"""The door page (Check-in → Door) in a real browser: a desk scans online, pretix's own
checkinrpc/redeem admits a ticket from a device at a gate, a desk admits offline a ticket
that the device admitted meanwhile, and someone leaves; the page shows each fact, as pretix
counts it, and the desk as it reports itself, within one refresh, without a reload."""
import uuid

import pytest
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix.base.models import Checkin, Device, Gate
from rest_framework.test import APIClient

from tests.browser.conftest import login, new_context, open_desk
from tests.browser.test_desk_scanning import result_state, wedge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def door_url(desk_data):
    event = desk_data["event"]
    return "/control/event/{}/{}/desk/door/".format(event.organizer.slug, event.slug)


def next_refresh(page):
    """Wait for the refresh after the one under way (a refresh that started before the
    change may not show it)."""
    seen = int(page.get_attribute("body", "data-door-refreshed") or 0)
    page.wait_for_selector(f"body[data-door-refreshed='{seen + 2}']", timeout=20000)


def figure(page, list_id, field):
    return int(page.inner_text(f"#door-lists tr[data-list='{list_id}'] [data-field='{field}']"))


def pretix_counts(clist):
    with scopes_disabled():
        # as pretix's check-in list status counts them
        entered = clist.positions.filter(Exists(Checkin.objects.filter(
            list_id=clist.pk, position=OuterRef("pk"), type=Checkin.TYPE_ENTRY)))
        return {"expected": clist.positions.count(), "inside": clist.inside_count, "entered": entered.count()}


def shown_counts(page, clist):
    return {k: figure(page, clist.pk, k) for k in ("expected", "inside", "entered")}


def device_at_gate(desk_data):
    with scopes_disabled():
        organizer = desk_data["event"].organizer
        gate = Gate.objects.create(organizer=organizer, name="North", identifier="north")
        device = Device.objects.create(organizer=organizer, name="Scanner 1", all_events=True, initialized=now(),
                                       api_token="doortest" + uuid.uuid4().hex[:8], security_profile="full",
                                       gate=gate)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Device " + device.api_token)
    return client, gate


def pretix_redeem(client, desk_data, position):
    r = client.post(reverse("api-v1:checkinrpc.redeem", kwargs={"organizer": desk_data["event"].organizer.slug}),
                    {"secret": position.secret, "lists": [desk_data["list"].pk], "nonce": uuid.uuid4().hex},
                    format="json")
    assert r.data["status"] == "ok", r.data


def logged_in_page(browser, live_server, user, name):
    """A page in a browser context of its own (the manager's, a desk's), logged in."""
    context = new_context(browser, live_server)
    page = context.new_page()
    page.on("pageerror", lambda err: print(name, "pageerror:", err))
    login(page, user)
    return context, page


def test_the_door_page_shows_every_fact_within_one_refresh(browser, live_server, desk_data):
    clist = desk_data["list"]
    manager_context, manager = logged_in_page(browser, live_server, desk_data["user"], "door")
    manager.goto(door_url(desk_data))
    manager.wait_for_selector("body[data-door-refreshed]")
    assert shown_counts(manager, clist) == pretix_counts(clist)
    assert pretix_counts(clist)["entered"] == 0
    assert "No conflicts" in manager.inner_text("#door-conflicts")
    # the plots are drawn (Morris, as pretix ships it), the figures are in tables too
    assert manager.locator("#door-plot-recent svg").count() == 1

    desk_context, desk = logged_in_page(browser, live_server, desk_data["user"], "desk")
    open_desk(desk, desk_data)
    try:
        # a desk scans online
        wedge(desk, desk_data["paid"].secret)
        result_state(desk, "ok")
        next_refresh(manager)
        assert shown_counts(manager, clist) == pretix_counts(clist)
        assert figure(manager, clist.pk, "entered") == 1
        staff = manager.locator("#door-sources tr[data-source='desk']")
        assert staff.locator("[data-field='entries']").inner_text() == "1"

        # the desk reports itself with its syncs: online, its scan counted
        desk.evaluate("window.pretixDesk.syncNow()")
        next_refresh(manager)
        row = manager.locator("#door-desks tr[data-desk]")
        assert row.count() == 1
        assert row.get_attribute("data-state") in ("online", "syncing")
        assert row.locator("[data-field='scans_per_minute']").inner_text() == "0.2"

        # pretixSCAN's way, at the north gate
        scanner, north = device_at_gate(desk_data)
        pretix_redeem(scanner, desk_data, desk_data["second"])
        next_refresh(manager)
        assert figure(manager, clist.pk, "entered") == 2
        at_north = manager.locator(f"#door-sources tr[data-source='device'][data-gate='{north.pk}']")
        assert at_north.locator("[data-field='entries']").inner_text() == "1"
        assert "North" in at_north.inner_text()
        inside_by_gate = manager.inner_text(f"#door-lists tr[data-list='{clist.pk}'] [data-field='inside_by_gate']")
        assert "North: 1" in inside_by_gate and "no gate: 1" in inside_by_gate

        # a desk offline admits Grace, whom the device admits meanwhile: pretix records the
        # desk's upload as forced, and the door lists the conflict with a link to the order
        desk_context.set_offline(True)
        desk.wait_for_selector("#desk-net[data-state='offline']")
        wedge(desk, desk_data["grace"].secret)
        result_state(desk, "ok")
        pretix_redeem(scanner, desk_data, desk_data["grace"])
        desk_context.set_offline(False)
        desk.wait_for_selector("body[data-queued='0']", timeout=30000)
        desk.evaluate("window.pretixDesk.syncNow()")
        next_refresh(manager)
        # the desk said it was offline, and when it came back
        assert row.get_attribute("data-state") == "online"
        assert "offline" in row.locator("[data-field='state']").inner_text()
        assert row.locator("[data-field='queued']").inner_text() == "0"
        conflict = manager.locator("#door-conflicts li[data-checkin]")
        assert conflict.count() == 1
        with scopes_disabled():
            code = desk_data["grace"].order.code
        link = conflict.get_by_role("link")
        assert code in link.inner_text() and link.get_attribute("href").endswith(f"/orders/{code}/")
        assert shown_counts(manager, clist) == pretix_counts(clist)

        # the plots and the sources' table can show one list: the other list had no arrivals
        with scopes_disabled():
            other = clist.event.checkin_lists.create(name="Workshop")
        next_refresh(manager)
        manager.select_option("#door-plot-list", str(other.pk))
        next_refresh(manager)
        assert manager.locator("#door-sources tr[data-source]").count() == 0
        manager.select_option("#door-plot-list", "")
        next_refresh(manager)
        assert manager.locator("#door-sources tr[data-source='desk']").count() == 1

        # someone leaves: inside goes down, arrivals stay
        desk.click("#desk-dir-exit")
        wedge(desk, desk_data["paid"].secret)
        result_state(desk, "ok")
        next_refresh(manager)
        assert shown_counts(manager, clist) == pretix_counts(clist)
        assert figure(manager, clist.pk, "inside") == figure(manager, clist.pk, "entered") - 1
        assert staff.locator("[data-field='exits']").inner_text() == "1"
    finally:
        desk_context.close()
        manager_context.close()
