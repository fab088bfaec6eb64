"""The "check in anyway" of the desk page: offered only where the server offers it (forcing a
check-in only to those who may change orders), as a deliberate second step, and logged as
forced by pretix. Each test ends by counting pretix's check-ins."""
import time

import pytest
from django_scopes import scopes_disabled
from pretix.base.models import LogEntry, Team, User

from tests.browser.conftest import (
    PASSWORD, login, open_desk, wait_until_reloadable_offline,
)
from tests.browser.test_desk_scanning import (
    REPEAT_WINDOW, checkins, result_state, scans_done, settled, wedge,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERRIDE = "#desk-result-actions button.desk-override"


def test_force_is_offered_to_an_admin_and_logged_as_forced(desk_page, desk_data):
    page = desk_page
    unpaid = desk_data["unpaid"]  # on a list without pending orders: only forcing gets it in
    done = scans_done(page)
    wedge(page, unpaid.secret)
    assert "Not paid" in result_state(page, "error")
    settled(page, done)
    assert not checkins(unpaid, successful=True)  # never automatic
    page.click(OVERRIDE + ":has-text('Check in anyway')")
    assert "Charles Babbage" in result_state(page, "ok")
    (done,) = checkins(unpaid, successful=True)
    assert done.forced and done.force_sent
    with scopes_disabled():
        entry = LogEntry.objects.filter(action_type="pretix.event.checkin").last()
        assert entry.parsed_data["forced"] is True and entry.user_id == desk_data["user"].pk


def test_force_is_not_offered_to_a_check_in_only_team(context, desk_data):
    with scopes_disabled():
        door = User.objects.create_user("door@example.org", PASSWORD)
        team = Team.objects.create(organizer=desk_data["event"].organizer, name="Door",
                                   limit_event_permissions={"event.orders:checkin": True})
        team.limit_events.add(desk_data["event"])
        team.members.add(door)
    page = context.new_page()
    login(page, door)
    open_desk(page, desk_data)
    unpaid = desk_data["unpaid"]
    done = scans_done(page)
    wedge(page, unpaid.secret)
    assert "Not paid" in result_state(page, "error")
    settled(page, done)
    assert page.locator(OVERRIDE).count() == 0
    # offline neither: the downloaded record offers no override for this list
    wait_until_reloadable_offline(page)
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    time.sleep(REPEAT_WINDOW)  # the same code again is not ignored as a repeat
    wedge(page, unpaid.secret)
    text = result_state(page, "error")
    assert "Not paid" in text and "Answered offline" in text
    assert page.locator(OVERRIDE).count() == 0
    # a paid ticket still gets in for them
    wedge(page, desk_data["second"].secret)
    result_state(page, "ok")
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert not checkins(unpaid, successful=True)
    assert len(checkins(desk_data["second"], successful=True)) == 1
