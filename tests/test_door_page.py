"""The door page in the control panel (Check-in → Door): who sees it and its entry in the
navigation (as pretix's check-in list status: view orders or check in), what it is
configured with, and the CSP of pretix's own chart pages. The browser test
(tests/browser/test_door_page.py) drives it."""
import pytest

from tests.test_desk_page import json_block, user_client

DOOR = "/control/event/bigevents/sampleconf/desk/door/"


@pytest.mark.django_db
@pytest.mark.parametrize("permissions,status", [
    (["event.orders:read"], 200), (["event.orders:checkin"], 200), (["event.settings.general:write"], 403),
])
def test_who_sees_the_door(organizer, event, clist, permissions, status):
    client = user_client(organizer, event, permissions=permissions)
    assert client.get(DOOR).status_code == status
    listed = 'href="{}"'.format(DOOR) in client.get("/control/event/bigevents/sampleconf/").content.decode()
    assert listed == (status == 200)


@pytest.mark.django_db
def test_the_page_reads_the_door_endpoint_and_allows_what_raphael_needs(organizer, event, clist):
    client = user_client(organizer, event, permissions=["event.orders:checkin"])
    response = client.get(DOOR)
    config = json_block(response.content.decode(), "door-config")
    assert config["api"] == "/api/v1/organizers/bigevents/events/sampleconf/desk_door/"
    assert config["refresh_seconds"] == 5 and config["strings"]["no_conflicts"]
    assert "'unsafe-eval'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_no_door_without_the_plugin(organizer, event, clist):
    client = user_client(organizer, event, permissions=["event.orders:read"])
    event.disable_plugin("pretix_desk")
    event.save()
    assert client.get(DOOR).status_code == 404
