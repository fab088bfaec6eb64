"""Who may call the desk API: pretix's authentication, the contract's permissions."""
import pytest
from django.conf import settings
from django.test import Client
from django.utils.crypto import get_random_string
from django.utils.timezone import now
from pretix.base.models import CheckinList, Device, Organizer, Team
from rest_framework.test import APIClient

from tests.conftest import team_client

from .conftest import desk_url

CHECKIN = "event.orders:checkin"
READ = "event.orders:read"
WRITE = "event.orders:write"


def calls(clist, position, addon):
    """One request per endpoint: (name, method, url, body)."""
    lookup = desk_url(clist, "lookup", code=position.secret)
    return [
        ("scan", "post", desk_url(clist, "scan"), {"access_code": position.secret}),
        ("redeem", "post", desk_url(clist, "redeem"), {"access_code": position.secret, "line_item_id": addon.pk}),
        ("lookup", "get", lookup, None),
        ("preload", "get", desk_url(clist, "preload"), None),
        ("search", "get", desk_url(clist, "search") + "?q=Lovelace", None),
    ]


def call(client, method, url, body):
    if method == "post":
        return client.post(url, body, format="json")
    return client.get(url)


WRITES = {"scan", "redeem"}


@pytest.mark.django_db
@pytest.mark.parametrize("permissions,allowed", [
    ([], set()),
    ([CHECKIN], {"scan", "redeem", "lookup", "preload", "search"}),
    ([READ], {"lookup", "preload", "search"}),
    ([READ, WRITE], {"scan", "redeem", "lookup", "preload", "search"}),
])
def test_team_permissions(organizer, event, clist, position, addon, permissions, allowed):
    client = team_client(organizer, permissions=permissions)
    for name, method, url, body in calls(clist, position, addon):
        r = call(client, method, url, body)
        if name in allowed:
            assert r.status_code in (200, 201), (name, r.status_code)
        else:
            assert r.status_code == 403, (name, r.status_code)


@pytest.mark.django_db
def test_anonymous_is_401(clist, position, addon):
    for name, method, url, body in calls(clist, position, addon):
        assert call(APIClient(), method, url, body).status_code == 401, name


@pytest.mark.django_db
def test_team_limited_to_other_event(organizer, other_event, clist, position, addon):
    client = team_client(organizer, permissions=[CHECKIN, READ, WRITE], events=[other_event])
    for name, method, url, body in calls(clist, position, addon):
        assert call(client, method, url, body).status_code == 403, name


@pytest.mark.django_db
def test_token_of_another_organizer(clist, position, addon):
    stranger = Organizer.objects.create(name="Other", slug="other")
    team = Team.objects.create(organizer=stranger, all_events=True, all_event_permissions=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + team.tokens.create(name="t").token)
    for name, method, url, body in calls(clist, position, addon):
        assert call(client, method, url, body).status_code == 403, name


def device_client(organizer, profile):
    device = Device.objects.create(
        organizer=organizer, name="Desk 1", all_events=True, initialized=now(),
        api_token="devtoken" + profile, security_profile=profile,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Device " + device.api_token)
    return client, device


@pytest.mark.django_db
@pytest.mark.parametrize("profile,ok", [("full", True), ("pretix_desk", True), ("pretixscan", False)])
def test_devices(organizer, event, clist, position, addon, profile, ok):
    client, device = device_client(organizer, profile)
    for name, method, url, body in calls(clist, position, addon):
        r = call(client, method, url, body)
        assert (r.status_code in (200, 201)) == ok, (name, r.status_code)
    if ok:
        from pretix_desk.models import Redemption

        assert Redemption.objects.get().device == device


@pytest.mark.django_db
def test_desk_profile_allows_nothing_else(organizer, event, clist):
    client, _ = device_client(organizer, "pretix_desk")
    base = f"/api/v1/organizers/{organizer.slug}/events/{event.slug}/"
    assert client.get(base + "checkinlists/").status_code == 200
    assert client.get(base + "orders/").status_code == 403
    assert client.get(base + f"checkinlists/{clist.pk}/positions/").status_code == 403


@pytest.mark.django_db
def test_plugin_disabled_is_404(client, event, clist, position, addon):
    event.disable_plugin("pretix_desk")
    event.save()
    for name, method, url, body in calls(clist, position, addon):
        assert call(client, method, url, body).status_code == 404, name


@pytest.mark.django_db
def test_list_of_other_event_is_404(client, other_event, clist, position, addon):
    foreign = CheckinList.objects.create(event=other_event, name="Foreign", all_products=True)
    for name, method, url, body in calls(clist, position, addon):
        url = url.replace(f"/checkinlists/{clist.pk}/", f"/checkinlists/{foreign.pk}/")
        assert call(client, method, url, body).status_code == 404, name
    url = desk_url(clist, "scan").replace(f"/checkinlists/{clist.pk}/", "/checkinlists/abc/")
    assert client.post(url, {"access_code": "x"}, format="json").status_code == 404


@pytest.mark.django_db
def test_control_panel_session_needs_csrf(admin_team, admin_user, clist, position):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    url = desk_url(clist, "scan")
    r = browser.post(url, {"access_code": position.secret}, content_type="application/json")
    assert r.status_code == 403
    # The desk page sends the token of its CSRF cookie in a header, as pretix's web check-in.
    token = get_random_string(32)
    browser.cookies[settings.CSRF_COOKIE_NAME] = token
    r = browser.post(url, {"access_code": position.secret}, content_type="application/json",
                     HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 201, r.content
